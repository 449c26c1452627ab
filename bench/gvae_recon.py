"""Graph-VAE reconstruction: the one-shot MLP decoder against the autoregressive decoder.

For each space, decoder and seed: train :class:`~archperf.nn.gvae.GraphVAE` without labels on
``--train`` cells drawn from the benchmark's table (seeded permutation), then decode the codes
(posterior means) of ``--test`` held-out cells of the same table.  Reports the share decoded
exactly (``space.to_text``), to an equivalent cell (``space.canonical``) and valid, on the
held-out cells and on as many training cells.  NB201: all 15,625 cells of ``nb201.csv``;
NB101: the 30,296 cells of ``nb101_subset.csv.gz``.

Run: python bench/gvae_recon.py --spaces nb201 nb101 --seeds 0 1 --epochs 100
     --out bench/results/gvae_recon.json
``--encoders gin dag-gru`` compares registered encoders (default: ``gin``; each row names its
encoder and, with ``--encoder-kwargs '{"bidirectional": true}'``, the arguments).
Needs the data folder (../shared/data or $ARCHPERF_DATA_DIR); skips a space whose data is absent.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from typing import Any

import numpy as np
import torch

from archperf.datahash import short_source
from archperf.errors import ArchperfError
from archperf.nn.gvae import DECODERS, GraphVAE


def table_cells(space: str) -> tuple[list[Any], str]:
    """Every cell of the space's benchmark table, and the data source."""
    if space == "nb201":
        from archperf.benchmarks.nb201 import NB201Benchmark

        bench: Any = NB201Benchmark("cifar10")
    else:
        from archperf.benchmarks.nb101 import NB101Benchmark

        bench = NB101Benchmark("cifar10")
    return [bench.arch_at(i) for i in range(len(bench))], short_source(str(bench.source))


def one(
    space: str,
    cells: list[Any],
    decoder: str,
    seed: int,
    train: int,
    test: int,
    epochs: int,
    encoder: str = "gin",
    encoder_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit on ``train`` cells, measure on ``test`` held-out cells (split by ``seed``)."""
    order = np.random.default_rng(seed).permutation(len(cells))
    tr = [cells[int(i)] for i in order[:train]]
    te = [cells[int(i)] for i in order[train : train + test]]
    model = GraphVAE(
        space, seed=seed, decoder=decoder, encoder=encoder, encoder_kwargs=encoder_kwargs
    )
    t0 = time.perf_counter()
    hist = model.fit(tr, epochs=epochs, seed=seed)
    return {
        "space": space,
        "decoder": decoder,
        "encoder": encoder,
        "encoder_kwargs": dict(encoder_kwargs or {}),
        "encoder_parameters": sum(p.numel() for p in model.encoder.parameters()),
        "seed": seed,
        "train_cells": train,
        "epochs": epochs,
        "final_loss": {k: round(v, 4) for k, v in hist[-1].items()},
        "train": model.reconstruction(tr[:test]),
        "held_out": model.reconstruction(te),
        "fit_seconds": round(time.perf_counter() - t0, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", nargs="+", default=["nb201", "nb101"])
    ap.add_argument("--decoders", nargs="+", default=list(DECODERS), choices=DECODERS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--encoders", nargs="+", default=["gin"], help="registered encoder names")
    ap.add_argument(
        "--encoder-kwargs", type=json.loads, default=None, help="JSON arguments of the encoders"
    )
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rows: list[dict[str, Any]] = []
    sources: dict[str, str] = {}
    for space in args.spaces:
        try:
            cells, sources[space] = table_cells(space)
        except ArchperfError as exc:
            print(f"skipped {space}: {exc}", file=sys.stderr)
            continue
        for seed in args.seeds:
            for decoder in args.decoders:
                for encoder in args.encoders:
                    row = one(
                        space,
                        cells,
                        decoder,
                        seed,
                        args.train,
                        args.test,
                        args.epochs,
                        encoder,
                        args.encoder_kwargs,
                    )
                    print(json.dumps(row), flush=True)
                    rows.append(row)
                    with open(args.out, "w") as fh:  # partial results survive an interruption
                        json.dump(
                            {
                                "started": started,
                                "machine": f"{platform.machine()}, shared CPU, 1 thread",
                                "data": sources,
                                "args": vars(args),
                                "runs": rows,
                            },
                            fh,
                            indent=1,
                        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
