"""What the generator's scores and decoded cells look like: the numbers behind docs/training.md's
diagnosis of NB101 and NB301 (sections "The generator's nodes look alike", "NB101: a decoder
that keeps every vertex", "NB301: classes that exist").

* ``init``: NB101 edge scores of untrained generators (the trainer's build: ``latent_ops``,
  seed = trainer seed + 2), with and without ``skip``: their std within a cell and over latents.
* ``trained``: for each ``--runs VARIANT:SEED`` (variants of bench/generator_condition.py), the
  trainer as there (100 labels of the NB101 subset, the subset unlabeled, 60 epochs), then 1,000
  class-0 latents and noise draws: mean edge probability q per upper-triangle edge and its std
  over latents, switched-on edges per draw, vertex counts of the draws decoded with the 9-edge
  cap and without it, distinct edge sets and op strings of the generated cells, mean op
  probabilities.
* ``nb101_subset``: vertex counts of the subset and each count's share of top-10 % cells.
* ``nb301_classes``: for seeds 0-4, the class counts of the 100 labels and of the 5,000-cell
  pool under the default condition and under ``step_quantile`` 0.2; the pool's quantiles.

Writes bench/results/generator_probe.json.  Data: ../shared/data (or $ARCHPERF_DATA_DIR);
about 60 s per trained run, single-threaded.

    python bench/generator_probe.py [--runs default:0 skip:0 skip_keep_op0.005:1]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from generator_condition import VARIANTS

from archperf.conditions import condition_for_labels
from archperf.nn.decoders import logistic_noise, nb101_select
from archperf.nn.generator import ConditionalGenerator
from archperf.paths import find_data_dir
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

IU = np.triu_indices(7, 1)


def _init() -> dict[str, Any]:
    out: dict[str, Any] = {}
    cond = torch.zeros(256, dtype=torch.long)
    for skip in (False, True):
        within, over = [], []
        for seed in (2, 3, 4):  # the trainer's generator seeds for trainer seeds 0..2
            g = ConditionalGenerator("nb101", latent_ops=True, skip=skip, seed=seed)
            z_a, z_x = g.sample_latent(256, torch.Generator().manual_seed(0))
            with torch.no_grad():
                e = g.scores(cond, z_a, z_x)[1]
            assert e is not None
            e = e[:, IU[0], IU[1]]
            within.append(float(e.std(1).mean()))
            over.append(float(e.std(0).mean()))
        out[f"skip={skip}"] = {
            "edge_score_std_within_cell": [round(v, 4) for v in within],
            "edge_score_std_over_latents": [round(v, 4) for v in over],
        }
    return out


def _trained(bench: Any, pool: list[Any], variant: str, seed: int) -> dict[str, Any]:
    space = bench.space
    rng = np.random.default_rng(seed)
    labeled = [pool[i] for i in rng.choice(len(pool), 100, replace=False)]
    cfg = TrainerConfig(
        **{"space": "nb101", "epochs": 60, "seed": seed, "progress": False, "device": "cpu"}
        | VARIANTS[variant]
    )
    tr = BiArch2Perf(cfg, space=space)
    tr.fit(labeled, bench.lookup(labeled, "val"), pool)
    g = tr.generator
    assert g is not None
    n = 1000
    gen = torch.Generator().manual_seed(1)
    z_a, z_x = g.sample_latent(n, gen)
    with torch.no_grad():
        ol, el = g.scores(g.condition_tensor(0, n), z_a, z_x)
        assert el is not None
        noisy = el + logistic_noise(el, gen)
    q = torch.sigmoid(el / g.tau).double().numpy()[:, IU[0], IU[1]]
    p = torch.sigmoid(noisy / g.tau).numpy()
    on = noisy.numpy() > 0
    keep = bool(getattr(g.decoder, "keep_vertices", False))
    vertices = {}
    for cap in (9, 21):
        counts = Counter(int(nb101_select(p[i], on[i], cap, keep)[1].sum()) for i in range(n))
        vertices[f"cap={cap}"] = dict(sorted(counts.items()))
    cells = g.sample(0, n, seed=1)
    ops = torch.softmax(ol[:, 1:-1] / g.tau, -1).double().numpy()
    return {
        "variant": variant,
        "seed": seed,
        "edge_q_mean": q.mean(0).round(2).tolist(),
        "edge_q_std_over_latents": q.std(0).round(2).tolist(),
        "switched_on_edges_mean": round(float(on[:, IU[0], IU[1]].sum(1).mean()), 2),
        "vertices_of_draws": vertices,
        "distinct_cells": len({space.canonical(c) for c in cells}),
        "distinct_edge_sets": len({np.asarray(c.adjacency).tobytes() for c in cells}),
        "distinct_op_strings": len({tuple(np.asarray(c.ops).tolist()) for c in cells}),
        "op_prob_mean": ops.mean((0, 1)).round(2).tolist(),
    }


def _subset(bench: Any, pool: list[Any]) -> dict[str, Any]:
    y = bench.lookup(pool, "val")
    top = y >= np.quantile(y, 0.9)
    v = np.array([c.num_vertices for c in pool])
    return {
        str(k): {"cells": int((v == k).sum()), "top10_share": round(float(top[v == k].mean()), 4)}
        for k in sorted(set(v.tolist()))
    }


def _nb301(root: Path) -> dict[str, Any]:
    from archperf.benchmarks.nb301 import NB301Benchmark

    b = NB301Benchmark(data_dir=root, threads=1)
    pool = list(b.space.sample(5000, seed=12345))
    y = b.lookup(pool, "val")
    out: dict[str, Any] = {
        "pool_quantiles": {
            str(q): round(float(np.quantile(y, q)), 2) for q in (0, 0.05, 0.5, 0.95, 1)
        }
    }
    conditions = {
        "default": {"type": "rank", "quantile": 0.8},
        "step_quantile": {"type": "rank", "quantile": 0.8, "step_quantile": 0.2},
    }
    for name, spec in conditions.items():
        rows = []
        for seed in range(5):
            idx = np.random.default_rng(seed).choice(len(pool), 100, replace=False)
            c = condition_for_labels(spec, y[idx])
            rows.append(
                {
                    "seed": seed,
                    "labels": np.bincount(c.encode(y[idx]), minlength=5).tolist(),
                    "pool": np.bincount(c.encode(y), minlength=5).tolist(),
                }
            )
        out[name] = rows
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", default=["default:0", "skip:0", "skip_keep_op0.005:1"])
    ap.add_argument("--out", default="bench/results/generator_probe.json")
    args = ap.parse_args()
    root = find_data_dir()
    if root is None or not (root / "nb101/nb101_subset.csv.gz").is_file():
        print("skipped: nb101/nb101_subset.csv.gz not found (set $ARCHPERF_DATA_DIR)")
        return 0
    torch.set_num_threads(1)
    from archperf.benchmarks.nb101 import NB101Benchmark

    bench = NB101Benchmark(data_dir=root)
    pool = [bench.records.arch_at(i) for i in range(len(bench.records))]
    result: dict[str, Any] = {
        "data": "NAS-Bench-101 subset (nb101_subset.csv.gz, val_acc_108 %); NB301: YAHPO "
        "surrogate validation accuracy of 5,000 random cells (sample seed 12345)",
        "init": _init(),
        "nb101_subset": _subset(bench, pool),
        "trained": [],
    }
    for run in args.runs:
        variant, seed = run.rsplit(":", 1)
        rec = _trained(bench, pool, variant, int(seed))
        print(json.dumps(rec), file=sys.stderr, flush=True)
        result["trained"].append(rec)
    if (root / "nb301/yahpo_nb301_surrogate.onnx").is_file():
        result["nb301_classes"] = _nb301(root)
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
