"""Query NB301 (YAHPO surrogate) for DARTS genotypes through a budgeted oracle.

Run: python examples/nb301_surrogate.py   (needs <data dir>/nb301/yahpo_nb301_surrogate.onnx)
"""

from __future__ import annotations

import sys

from archperf.errors import DataFileError
from archperf.spaces.darts import DartsSpace


def main() -> int:
    try:
        from archperf.benchmarks.nb301 import NB301Benchmark

        bench = NB301Benchmark()
    except (DataFileError, ImportError) as exc:
        print(f"skipped: {exc}")
        return 0
    space = DartsSpace()
    oracle = bench.oracle(budget=20)
    archs = space.sample(8, seed=0)
    values = oracle.query(archs)
    # an equivalent written form of the first genotype is the same record: same value, free
    again = oracle.query([space.canonical_genotype(archs[0])])
    print(f"{bench.label}: validation accuracy (%) of 8 random genotypes")
    for g, v in zip(archs, values, strict=True):
        print(f"  {v:6.2f}  {space.canonical_id(g)}")
    print(f"canonical form of the first: {again[0]:.2f} (same); queries used: {oracle.num_queries}")
    print(bench.describe()["report_note"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
