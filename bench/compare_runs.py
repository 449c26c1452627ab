"""Do two per-run CSVs (``tableN_runs.csv`` of ``archperf reproduce``, or ``archperf table
--format runs``) hold the same runs?  Pairs runs by (dataset, protocol, label, budget, seed) and
counts, per label, the pairs whose final cell and search value are equal.

    python bench/compare_runs.py <(git show c38f969:docs/results/table3_runs.csv) \
        docs/results/table3_runs.csv
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path


def _runs(path: str) -> dict[tuple[str, ...], dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    keys = ("dataset", "protocol", "label", "budget", "seed")
    return {tuple(r[k] for k in keys): r for r in rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    args = ap.parse_args()
    old, new = _runs(args.old), _runs(args.new)
    same: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for key, row in old.items():
        if key not in new:
            continue
        equal = all(row[f] == new[key][f] for f in ("final_arch", "search_value"))
        (same if equal else other)[key[2]] += 1
    for label in sorted(set(same) | set(other)):
        print(f"{label}: {same[label]} same, {other[label]} other")
    print(
        f"{sum(same.values())} of {sum(same.values()) + sum(other.values())} shared runs same; "
        f"{len(set(old) - set(new))} only in old, {len(set(new) - set(old))} only in new"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
