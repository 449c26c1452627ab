"""NB101: time to enumerate and hash all 423,624 cells, cache size, cached load time and memory.

Run: ``python bench/nb101_enumerate.py [--out PATH] [--cache-dir DIR] [--repeats 7]``.
Writes JSON to stdout and to ``--out`` (default ``bench/results/nb101_enumerate.json``).  The
enumeration is built from the space's rules only (no benchmark data); it is written to a fresh
temporary cache dir unless ``--cache-dir`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from archperf.spaces import _nb101_enum as enum
from archperf.spaces.nb101 import NB101Space

OUT = Path(__file__).resolve().parent / "results" / "nb101_enumerate.json"


def _per_second(fn: object, n: int) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return n / (time.perf_counter() - t0)


def run(cache_dir: Path, repeats: int) -> dict[str, object]:
    path = enum.cache_path(cache_dir)
    t0 = time.perf_counter()
    table = enum.enumerate_space()
    enum_s = time.perf_counter() - t0
    enum.save(table, path)
    counts = np.bincount(table.num_vertices, minlength=8)[2:].tolist()

    load_times = []
    for _ in range(repeats):
        space = NB101Space(cache_file=path)
        t0 = time.perf_counter()
        space.enumeration()
        load_times.append(time.perf_counter() - t0)
    tracemalloc.start()
    loaded = NB101Space(cache_file=path).enumeration()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    space = NB101Space(cache_file=path)
    space.enumeration()
    cells = space.sample(2000, seed=0)
    return {
        "what": "NB101 full enumeration (rules only, no benchmark data) and its on-disk cache",
        "num_cells": len(table),
        "cells_by_vertices_2_to_7": counts,
        "distinct_hashes": len(np.unique(table.hash_keys())),
        "enumerate_seconds": enum_s,
        "cache_file_bytes": path.stat().st_size,
        "cache_format_version": enum.FORMAT_VERSION,
        "cached_load_seconds_median": statistics.median(load_times),
        "cached_load_seconds_all": load_times,
        "loaded_arrays_bytes": loaded.nbytes,
        "load_tracemalloc_peak_bytes": peak,
        "rates_per_second": {
            "sample_uniform": _per_second(lambda: space.sample(2000, seed=1), 2000),
            "sample_rejection": _per_second(
                lambda: space.sample(500, seed=1, method="rejection"), 500
            ),
            "canonical": _per_second(lambda: [space.canonical(c) for c in cells], len(cells)),
            "index_of": _per_second(lambda: [space.index_of(c) for c in cells], len(cells)),
            "mutate": _per_second(
                lambda: [space.mutate(c, seed=i) for i, c in enumerate(cells[:500])], 500
            ),
        },
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cpu_count": os.cpu_count(),
            "note": "shared 2-core CPU (other jobs may run at the same time), no GPU",
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cache-dir", type=Path, help="where to write the cache (default: temp)")
    ap.add_argument("--repeats", type=int, default=7, help="cached loads to time (median)")
    args = ap.parse_args()
    if args.cache_dir is not None:
        result = run(args.cache_dir, args.repeats)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(Path(tmp), args.repeats)
    text = json.dumps(result, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
