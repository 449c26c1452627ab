"""Do two per-run CSVs (``tableN_runs.csv`` of ``archperf reproduce``, or ``archperf table
--format runs``) hold the same runs?  Pairs runs by (dataset, protocol, label, budget, seed) and
counts, per label, the pairs whose final cell and search value are equal.

    python bench/compare_runs.py <(git show c38f969:docs/results/table3_runs.csv) \
        docs/results/table3_runs.csv

With ``--paired OLD_LABEL NEW_LABEL`` it compares two methods instead, seed by seed: the runs of
OLD_LABEL in the first file against those of NEW_LABEL in the second, paired by (dataset,
protocol, budget, seed); it prints the mean ± std of the search-value difference (new − old)
and in how many pairs new is better, worse or tied.

    python bench/compare_runs.py --paired nacg-mr nacg-mr \
        bench/results/nacg_mr_nb301/uniform_runs.csv bench/results/nacg_mr_nb301/generator_runs.csv
"""

from __future__ import annotations

import argparse
import csv
import statistics
from collections import Counter
from pathlib import Path


def _runs(path: str) -> dict[tuple[str, ...], dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    keys = ("dataset", "protocol", "label", "budget", "seed")
    return {tuple(r[k] for k in keys): r for r in rows}


def paired(
    old: dict[tuple[str, ...], dict[str, str]],
    new: dict[tuple[str, ...], dict[str, str]],
    old_label: str,
    new_label: str,
) -> str:
    """The seed-by-seed comparison of two labels (``--paired``)."""

    def by_seed(
        runs: dict[tuple[str, ...], dict[str, str]], label: str
    ) -> dict[tuple[str, ...], float]:
        return {
            (k[0], k[1], k[3], k[4]): float(r["search_value"])
            for k, r in runs.items()
            if k[2] == label
        }

    a, b = by_seed(old, old_label), by_seed(new, new_label)
    keys = sorted(set(a) & set(b))
    if not keys:
        raise SystemExit(
            f"no run of {old_label!r} and {new_label!r} shares dataset, protocol, budget and seed"
        )
    diff = [b[k] - a[k] for k in keys]
    std = statistics.stdev(diff) if len(diff) > 1 else 0.0
    return (
        f"{new_label} − {old_label} over {len(keys)} paired runs: {statistics.fmean(diff):+.3f} ± "
        f"{std:.3f}; better in {sum(d > 0 for d in diff)}, worse in {sum(d < 0 for d in diff)}, "
        f"tied in {sum(d == 0 for d in diff)}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--paired", nargs=2, metavar=("OLD_LABEL", "NEW_LABEL"))
    args = ap.parse_args()
    old, new = _runs(args.old), _runs(args.new)
    if args.paired:
        print(paired(old, new, *args.paired))
        return 0
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
