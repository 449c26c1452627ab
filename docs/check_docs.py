"""Check the docs: every relative Markdown link resolves. Run: python docs/check_docs.py"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def main() -> int:
    bad = []
    for md in sorted(DOCS.rglob("*.md")):
        for target in LINK.findall(md.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (md.parent / target).exists():
                bad.append(f"{md.relative_to(DOCS)}: broken link {target}")
    print("\n".join(bad) or "all links resolve")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
