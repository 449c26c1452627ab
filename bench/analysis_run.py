"""The analysis numbers and figures quoted in docs/analysis.md, produced in one run.

1. ``archperf analyze`` for NB201 CIFAR-10 (100 labels) and NB101 (110 labels), seeds 0..4,
   60 epochs, 1,000 cells of class 0: JSON + Markdown into
   ``docs/results/analysis/<name>/seed<S>/``; PNG figures of seed 0 (chosen before any run)
   into ``docs/figures/analysis/<name>/``;
2. a summary of all seeds in ``docs/results/analysis/seeds.json`` and ``seeds.md``: how much
   the outcome depends on the seed;
3. the NB101 subset's coverage of the space by vertex count (why generated NB101 cells are
   known far more often than 7.2 % when they are small).

Needs ../shared/data (nb201/nb201.csv, nb101/nb101_subset.csv.gz); about 5 minutes on a
2-core CPU with one torch thread.  Run: python bench/analysis_run.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from archperf.cli import main as cli
from archperf.paths import find_data_dir

ROOT = Path(__file__).resolve().parents[1]
RUNS = {
    "nb201_cifar10": ["--space", "nb201", "--dataset", "cifar10", "--labels", "100"],
    "nb101": ["--space", "nb101", "--labels", "110"],
}
COMMON = ["--epochs", "60", "-n", "1000", "--threads", "1"]


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    q = data["quality"]
    g, cov = q["generation"], q["coverage"]
    sig = data["signatures"]
    out: dict[str, Any] = {
        "uniqueness": g["uniqueness"],
        "novelty": g["novelty"],
        "known": f"{cov['n_in_benchmark']}/{cov['n_valid']}",
        "distinct_known": cov["n_distinct_records"],
        "mean_val_known": data["accuracy"]["generated_samples"]["mean"],
        "train_seconds": data["setup"].get("train_seconds"),
    }
    for r in q["thresholds"]:
        if r["available"]:
            out[r["label"]] = {
                "generated": r["generated"]["fraction"],
                "generated_distinct": r["generated_distinct"]["fraction"],
                "space": r["space"]["fraction"],
            }
    for name in ("generated", "random_top", "random"):
        c = sig.get(f"{name}_vs_benchmark")
        if c is not None:
            out[f"signature_{name}_vs_benchmark"] = c
    return out


def nb101_subset_coverage(data: Path) -> dict[str, Any]:
    """Cells of the NB101 subset per vertex count, against the space's counts."""
    import pandas as pd

    from archperf.spaces.nb101 import NB101Space

    df = pd.read_csv(data / "nb101" / "nb101_subset.csv.gz", usecols=["ops"])
    n_vert = df["ops"].str.count(",") + 1
    space = NB101Space().enumeration()
    space_counts = np.bincount(space.num_vertices, minlength=8)
    sub = np.bincount(n_vert.to_numpy(), minlength=8)
    return {
        str(v): {"subset": int(sub[v]), "space": int(space_counts[v])}
        for v in range(2, 8)
        if space_counts[v]
    }


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def _markdown(seeds: dict[str, dict[int, dict[str, Any]]], cover: dict[str, Any]) -> str:
    lines = [
        "# Analysis across seeds",
        "",
        "Produced by `python bench/analysis_run.py` (`archperf analyze`, 60 epochs, 1,000 "
        "cells of class 0, seeds 0–4). Percentages; `gen` = known generated samples above the "
        "threshold, `space` = whole benchmark. Signature distance = mean absolute difference "
        "of op frequencies to the benchmark's top-64 (lower = closer); `rand-top` = the same "
        "selection applied to as many uniform cells.",
        "",
    ]
    for name, by_seed in seeds.items():
        first = next(iter(by_seed.values()))
        labels = [k for k in first if k.startswith(("val >", "test >"))]
        head = "| seed | unique | novel | known | "
        head += " | ".join(f"{lab}: gen / space" for lab in labels)
        head += " | sig. dist. gen / rand-top |"
        lines += [f"## {name}", "", head, "|---" * (5 + len(labels)) + "|"]
        for seed, s in by_seed.items():
            cells = [f"{_fmt(s[lab]['generated'])} / {_fmt(s[lab]['space'])}" for lab in labels]
            g = s.get("signature_generated_vs_benchmark", {}).get("ops_mean_abs_diff")
            r = s.get("signature_random_top_vs_benchmark", {}).get("ops_mean_abs_diff")
            dist = "n/a" if g is None or r is None else f"{g:.3f} / {r:.3f}"
            lines.append(
                f"| {seed} | {_fmt(s['uniqueness'])} | {_fmt(s['novelty'])} | {s['known']} | "
                + " | ".join(cells)
                + f" | {dist} |"
            )
        lines.append("")
    lines += ["## NB101 subset coverage by vertex count", "", "| vertices | subset | space |"]
    lines.append("|---|---|---|")
    for v, c in cover.items():
        lines.append(f"| {v} | {c['subset']:,} | {c['space']:,} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    found = find_data_dir(args.data_dir)
    if found is None:
        print("no benchmark data (../shared/data): nothing to do", file=sys.stderr)
        return 1
    data = Path(os.path.relpath(found))  # relative, so the committed JSON names no home folder
    results = ROOT / "docs" / "results" / "analysis"
    figures = ROOT / "docs" / "figures" / "analysis"
    seeds: dict[str, dict[int, dict[str, Any]]] = {}
    for name, run_args in RUNS.items():
        seeds[name] = {}
        for seed in range(args.seeds):
            base = [*run_args, *COMMON, "--seed", str(seed), "--data-dir", str(data)]
            out = results / name / f"seed{seed}"
            if seed == 0:  # figures of the pre-declared seed only
                extra = ["--figures-dir", str(figures / name), "--formats", "png"]
            else:
                extra = ["--no-figures"]
            rc = cli(["analyze", *base, "--out", str(out), *extra])
            if rc != 0:
                return rc
            for f in ("generated.txt", "labeled.txt"):  # numbers and figures, not cell lists
                (out / f).unlink(missing_ok=True)
            seeds[name][seed] = _summary(json.loads((out / "analysis.json").read_text()))
    cover = nb101_subset_coverage(data)
    payload = {
        "command": "python bench/analysis_run.py",
        "pipeline": "archperf analyze " + " ".join(COMMON) + " --seed S (per run: see runs)",
        "runs": {k: " ".join(v) for k, v in RUNS.items()},
        "seeds": seeds,
        "nb101_subset_coverage_by_vertices": cover,
    }
    (results / "seeds.json").write_text(json.dumps(payload, indent=2) + "\n")
    (results / "seeds.md").write_text(_markdown(seeds, cover))
    print((results / "seeds.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
