"""Train a small GIN performance predictor on real NAS-Bench-201 data, save it, and use it in
three lines.

Reads ``nb201/nb201.csv`` from the benchmark data folder (``$ARCHPERF_DATA_DIR`` or
``../shared/data``); run from the repository root:  ``python examples/predictor_three_lines.py``
"""

from __future__ import annotations

import sys
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from archperf import registry, save_component
from archperf.cell import CellBatch
from archperf.nn.predictor import GINPredictor
from archperf.paths import find_data_dir


def train_predictor(
    out: str, n_train: int = 1000, steps: int = 300, seed: int = 0
) -> tuple[list[Any], np.ndarray]:
    """Fit a PP on ``n_train`` NB201 cells (CIFAR-10 validation accuracy), save it to ``out``
    and return held-out cells with their true accuracies."""
    data = find_data_dir()
    if data is None or not (data / "nb201" / "nb201.csv").is_file():
        sys.exit("nb201/nb201.csv not found: set $ARCHPERF_DATA_DIR (see docs/neural.md)")
    df = pd.read_csv(data / "nb201" / "nb201.csv")
    space = registry.create("search_space", "nb201")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(df))
    train_idx, test_idx = idx[:n_train], idx[n_train : n_train + 2000]
    acc = df["cifar10_valid_val"].to_numpy(dtype=np.float64)
    archs = [space.from_text(s) for s in df["arch_str"]]

    pp = GINPredictor.for_space(space, seed=seed)
    pp.set_target_scale(float(acc[train_idx].mean()), float(acc[train_idx].std()))
    graphs = [space.to_graph(archs[i]) for i in train_idx]
    batch = CellBatch.from_cells(graphs, num_ops=len(space.op_names), max_nodes=space.max_nodes)
    y = torch.tensor(acc[train_idx], dtype=torch.float32)
    opt = torch.optim.Adam(pp.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    pp.train()
    for _ in range(steps):
        sel = torch.randperm(n_train, generator=gen)[:128]
        sub = CellBatch(batch.adj[sel], batch.ops[sel], batch.mask[sel], batch.num_ops)
        loss = torch.nn.functional.mse_loss(
            (pp(sub) - pp.target_mean) / pp.target_std, (y[sel] - pp.target_mean) / pp.target_std
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_component(pp, out)
    return [archs[i] for i in test_idx], acc[test_idx]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])


if __name__ == "__main__":
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="archperf-pp-") as saved:
        t0 = time.perf_counter()
        my_cells, truth = train_predictor(saved)
        print(f"trained and saved a predictor to {saved} in {time.perf_counter() - t0:.1f} s")

        # --- the three lines a user needs ---------------------------------------------------
        from archperf import load_predictor

        pp = load_predictor(saved)
        predicted = pp.predict(my_cells, space="nb201")
        # -------------------------------------------------------------------------------------

    print(
        f"{len(my_cells)} held-out NB201 cells: Spearman {spearman(predicted, truth):.3f}, "
        f"mean abs error {np.abs(predicted - truth).mean():.2f} points (CIFAR-10 valid acc %)"
    )
