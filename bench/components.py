"""Numbers quoted in docs/neural.md and docs/spaces/darts.md, measured in one run.

- generator: an untrained ConditionalGenerator (seed 0) per space, 5,000 samples
  (conditions 0..4 cycling, seed 123): validity, distinct canonical forms, time (median of 3);
  NB101 novelty against the real subset (``nb101/nb101_subset.csv.gz``) by official hash;
- encoders: forward (eval) and forward+backward with soft adjacency (train), batch 256, per
  backend (dense, PyG, DGL where installed) and space size, median of 5;
- NB301: the YAHPO surrogate on genotypes vs. their canonical renumbering (``nb301/``).

Run: python bench/components.py [--out bench/results/components.json]; one torch thread.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archperf import registry
from archperf.cell import CellBatch
from archperf.metrics import evaluate_generation
from archperf.nn.generator import ConditionalGenerator
from archperf.paths import find_data_dir

SPACES = ("nb101", "nb201", "darts")


def _median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def generator_quality(data: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cond = np.arange(5000) % 5
    for name in SPACES:
        space = registry.create("search_space", name)
        gen = ConditionalGenerator(space, num_classes=5, seed=0).eval()
        cells = gen.sample(cond, 5000, seed=123)
        m = evaluate_generation(space, cells)
        rec = {
            "validity": m.validity,
            "distinct": len({space.canonical(c) for c in cells}),
            "seconds_5000": _median_time(lambda g=gen: g.sample(cond, 5000, seed=123), 3),
        }
        subset = data / "nb101" / "nb101_subset.csv.gz" if data else None
        if name == "nb101" and subset is not None and subset.is_file():
            with gzip.open(subset, "rt") as fh:
                hashes = {line.split(",", 1)[0] for line in fh}
            forms = [space.canonical(c) for c in cells]
            rec["novel_vs_subset"] = float(np.mean([f not in hashes for f in forms]))
        out[name] = rec
    return out


def encoder_speed() -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = [n for n in ("gin", "gin-pyg", "gin-dgl") if n in registry.names("encoder")]
    for name in SPACES:
        space = registry.create("search_space", name)
        cells = [space.to_graph(a) for a in space.sample(256, seed=0)]
        batch = CellBatch.from_cells(cells, len(space.op_names), space.max_nodes)
        for enc_name in names:
            try:
                enc = registry.get("encoder", enc_name)(len(space.op_names), seed=0)
            except ImportError as exc:  # backend not installed
                out.setdefault("missing", {})[enc_name] = str(exc)
                continue

            def fwd(enc: Any = enc, batch: CellBatch = batch) -> None:
                enc.eval()
                with torch.no_grad():
                    enc(batch)

            def train(enc: Any = enc, batch: CellBatch = batch) -> None:
                enc.train()
                adj = batch.adj.clone().requires_grad_(True)
                enc(CellBatch(adj, batch.ops, batch.mask, batch.num_ops)).graph.sum().backward()

            fwd()
            train()
            out[f"{enc_name}/{name}"] = {
                "eval_forward_ms": 1e3 * _median_time(fwd, 5),
                "train_fwd_bwd_ms": 1e3 * _median_time(train, 5),
            }
    return out


def nb301_twins(data: Path | None) -> dict[str, Any] | None:
    if data is None or not (data / "nb301" / "yahpo_nb301_surrogate.onnx").is_file():
        return None
    from archperf.benchmarks.nb301 import YahpoNB301Surrogate

    space = registry.create("search_space", "darts")
    sur = YahpoNB301Surrogate(data_dir=data)
    gs = space.sample(500, seed=0)
    twins = [space.canonical_genotype(g) for g in gs]
    fa, fb = space.to_nb301_features(gs), space.to_nb301_features(twins)
    a, b = sur.predict_features(fa), sur.predict_features(fb)
    moved = (fa != fb).any(axis=1)  # the renumbering changed the surrogate's input
    diff = np.abs(a - b)[moved]
    return {
        "genotypes": len(gs),
        "renumbered": int(moved.sum()),
        "abs_diff_mean": float(diff.mean()),
        "abs_diff_median": float(np.median(diff)),
        "abs_diff_max": float(diff.max()),
        "pred_std": float(a.std()),
        "pred_min": float(a.min()),
        "pred_max": float(a.max()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/components.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = find_data_dir()
    res = {
        "machine": "2-core shared CPU, 1 torch thread",
        "torch": torch.__version__,
        "generator": generator_quality(data),
        "encoders": encoder_speed(),
        "nb301_twins": nb301_twins(data),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
