"""``archperf plugins``: list every registered component and where it came from."""

from __future__ import annotations

import argparse
import json

from .. import registry


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list registered components and their distributions")
    p.add_argument("--kind", help="only this component kind")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    reg = registry.default_registry()
    entries = reg.entries(args.kind)
    kinds = dict.fromkeys(e.kind for e in entries)
    aliases = [(k, a, n) for k in kinds for a, n in reg.aliases(k).items()]
    if args.json:
        for e in entries:
            target = e.target if isinstance(e.target, str) else repr(e.target)
            rec = {
                "kind": e.kind,
                "name": e.name,
                "target": target,
                "plugin": e.plugin,
                "distribution": e.distribution,
            }
            print(json.dumps(rec))
        for kind, alias, name in aliases:
            print(json.dumps({"kind": kind, "name": alias, "alias_of": name}))
        return 0
    rows = [("KIND", "NAME", "DISTRIBUTION", "TARGET")]
    for e in entries:
        target = e.target if isinstance(e.target, str) else repr(e.target)
        rows.append((e.kind, e.name, e.distribution, target))
    for kind, alias, name in aliases:
        rows.append((kind, alias, "(alias)", f"= {name}"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
    return 0
