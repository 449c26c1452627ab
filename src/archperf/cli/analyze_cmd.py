"""``archperf analyze``: what did the generator learn?  Table 4, signatures, structure plots.

Pipeline (default): draw ``--labels`` random benchmark records as the labeled set (their
validation metric is an uncounted look-up: this is analysis, not search), train Bi-Arch2Perf
with the whole NB201 space (or ``--unlabeled`` uniform NB101 cells) as the unlabeled pool,
generate ``-n`` cells under condition class 0 (the best rank class) and analyze them with
:func:`archperf.analysis.analyze`.  ``--model DIR`` uses a saved generator instead of training,
``--cells FILE`` analyzes cells given one per line.  torch is imported only when needed.

Writes ``analysis.json``, ``analysis.md``, ``generated.txt`` (and ``labeled.txt`` when it
trained) into ``--out`` and the figures (``signature``, ``structure``; PNG and SVG) into
``--figures-dir`` (default ``--out``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .. import registry
from .._io import atomic_write_bytes, read_cells
from ..paths import DATA_DIR_HELP
from ..runtime import resolve_device, resolve_threads, threads
from .runtime_args import add_device_arg, add_threads_arg, checked_device, checked_threads


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="train (or load) a generator, generate cells and analyze them (Table 4, figures)",
        description=(
            "Analyze generated cells like SemiGAN-NAD §4.3: validity, uniqueness, novelty, the "
            "share above accuracy thresholds vs. the whole benchmark, top-k signatures and the "
            "structure of the cells. By default trains Bi-Arch2Perf on --labels random cells "
            "and generates -n cells under class 0; --model or --cells skip the training."
        ),
    )
    p.add_argument(
        "--space",
        required=True,
        help="search space: nb201, nb101, or any space a plugin registers with a tabular benchmark",
    )
    p.add_argument(
        "--benchmark",
        help="tabular benchmark of the space (default: the benchmark registered under the "
        "space's name)",
    )
    p.add_argument("--dataset", help="dataset of the benchmark (default: its own, NB201 cifar10)")
    p.add_argument("--labels", type=int, default=100, help="labeled cells (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    p.add_argument("--epochs", type=int, default=60, help="training epochs (default 60)")
    p.add_argument(
        "--trainer",
        choices=["default", "generation"],
        default="default",
        help="default: TrainerConfig's defaults; generation: "
        "TrainerConfig.for_generation(space), the space's generator recipe (NB101, DARTS; "
        "docs/training.md)",
    )
    p.add_argument("-n", type=int, default=1000, help="cells to generate (default 1000)")
    p.add_argument(
        "--condition", type=int, default=0, help="condition class to generate (default 0 = best)"
    )
    p.add_argument(
        "--unlabeled",
        type=int,
        default=20_000,
        help="NB101: uniform cells in the unlabeled pool and the space sample (default 20000); "
        "NB201 always uses all 15,625 cells",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", metavar="DIR", help="a saved trainer (DIR/generator) or generator")
    src.add_argument("--cells", metavar="FILE", help="analyze these cells (one per line, or -)")
    p.add_argument(
        "--reference", metavar="FILE", help="cells for novelty with --model/--cells (one per line)"
    )
    p.add_argument("--top-k", type=int, default=64, help="signature size (default 64)")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--figures-dir", metavar="DIR", help="figures go here (default: --out)")
    p.add_argument(
        "--formats", default="png,svg", help="figure formats, comma-separated (default png,svg)"
    )
    p.add_argument("--no-figures", action="store_true", help="write the numbers only")
    p.add_argument("--save-model", metavar="DIR", help="save the trained models here")
    add_threads_arg(p)
    add_device_arg(
        p,
        help="where the training and the generation run: auto (CUDA when available, else CPU; "
        "the default), cpu or cuda; ignored with --cells",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _benchmark(args: argparse.Namespace) -> Any:
    """The tabular benchmark of ``--space``: ``--benchmark``, else the one registered under the
    space's name (any space, built-in or from a plugin)."""
    from ..benchmarks.base import TabularBenchmark
    from ..errors import UsageError

    space_name = registry.canonical_name("search_space", args.space)
    registry.get("search_space", space_name)  # an unknown space is named first
    name = args.benchmark
    if name is None:
        if space_name not in registry.names("benchmark"):
            raise UsageError(
                f"no benchmark is registered under the space name {space_name!r}: pass "
                f"--benchmark (benchmarks: {', '.join(registry.names('benchmark'))})"
            )
        name = space_name
    kwargs: dict[str, Any] = {"data_dir": args.data_dir}
    if args.dataset is not None:
        kwargs["dataset"] = args.dataset
    bench = registry.create("benchmark", name, **kwargs)
    if not isinstance(bench, TabularBenchmark):
        raise UsageError(
            f"analyze needs a tabular benchmark (every record with a value); {name!r} is a "
            f"{type(bench).__name__}"
        )
    if bench.space.name != space_name:
        raise UsageError(
            f"benchmark {name!r} is for space {bench.space.name!r}, not {space_name!r}"
        )
    return bench


def _write_cells(space: Any, cells: list[Any], path: Path) -> None:
    atomic_write_bytes(path, "".join(space.to_text(c) + "\n" for c in cells).encode("utf-8"))


def _load_generator(path: str, space: Any, device: str | None) -> Any:
    from ..nn.serialization import load_component

    root = Path(path)
    gen_dir = root / "generator" if (root / "generator").is_dir() else root
    where = None if device is None else resolve_device(device)
    gen = load_component(gen_dir, expected_kind="generator", device=where)
    gen_space = getattr(getattr(gen, "space", None), "name", None)
    if gen_space != space.name:
        raise ValueError(
            f"the generator in {gen_dir} is for space {gen_space!r}, not {space.name!r}"
        )
    return gen


def _check_condition(gen: Any, condition: int) -> None:
    classes = getattr(gen, "num_classes", None)
    if classes is None:
        raise ValueError("this generator has a continuous condition; analyze needs a class id")
    if not 0 <= condition < classes:
        raise ValueError(f"--condition {condition} is not a class id in 0..{classes - 1}")


def _train(
    args: argparse.Namespace, bench: Any, space: Any, out: Path, pool: tuple[list[Any], str]
) -> tuple[Any, list, dict]:
    """Train Bi-Arch2Perf on ``pool`` (cells, description) as the unlabeled set; return the
    generator, the labeled cells and what was done."""
    import numpy as np

    from .. import progress
    from ..training.bi_arch2perf import BiArch2Perf, TrainerConfig

    val = np.asarray(bench.column("val"), dtype=np.float64)
    known = np.flatnonzero(np.isfinite(val))
    if not 2 <= args.labels <= len(known):
        raise ValueError(f"--labels must be in 2..{len(known)}, got {args.labels}")
    rng = np.random.default_rng(args.seed)
    rec = np.sort(rng.choice(known, size=args.labels, replace=False))
    labeled = [bench.arch_at(int(i)) for i in rec]
    labels = val[rec]
    generation = args.trainer == "generation"
    build = TrainerConfig.for_generation if generation else TrainerConfig
    settings = (
        f"TrainerConfig.for_generation({space.name!r})" if generation else "TrainerConfig defaults"
    )
    config = build(
        space=space.name,
        epochs=args.epochs,
        seed=args.seed,
        progress=False,
        device=args.device or "auto",
    )
    trainer = BiArch2Perf(config, space=space)
    t0 = time.perf_counter()
    progress.phase(f"training on {args.labels} labeled cells")
    trainer.fit(labeled, labels, pool[0])
    seconds = time.perf_counter() - t0
    if args.save_model:
        trainer.save(args.save_model)
    _write_cells(space, labeled, out / "labeled.txt")
    cond = trainer.condition.to_config() if trainer.condition is not None else None
    info = {
        "cells": (
            f"generated by Bi-Arch2Perf trained here: {args.labels} labeled benchmark records "
            f"(drawn uniformly, seed {args.seed}, labels = validation metric), unlabeled pool "
            f"= {pool[1]}, {args.epochs} epochs, {settings} otherwise; class "
            f"{args.condition} sampled with seed {args.seed}"
        ),
        "labels": args.labels,
        "epochs": args.epochs,
        "trainer": args.trainer,
        "condition": cond,
        "train_seconds": round(seconds, 1),
        "torch_threads": resolve_threads(),
        "device": str(trainer.device),
    }
    return trainer.generator, labeled, info


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ValueError("-n must be >= 1")
    if args.top_k < 1:
        raise ValueError("--top-k must be >= 1")
    checked_threads(args)
    checked_device(args)
    if args.unlabeled < 1:
        raise ValueError("--unlabeled must be >= 1")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad or not formats:
        raise ValueError(f"--formats takes png, svg, pdf; got {args.formats!r}")
    if args.reference and not (args.model or args.cells):
        raise ValueError("--reference is for --model/--cells (training uses its labeled set)")
    from .. import progress
    from ..analysis import analyze, space_cells

    bench = _benchmark(args)
    space = bench.space
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reference = read_cells(space, args.reference) if args.reference else None
    ref_name = f"--reference {args.reference}" if args.reference else "reference"
    # the unlabeled pool when training, and the "space" group of the structure statistics
    pool = space_cells(space, seed=args.seed, sample=args.unlabeled)
    trains = not (args.cells or args.model)
    bar = progress.Bar(
        f"analyze {space.name}",
        args.epochs if trains else None,
        "epochs",
        enabled=not args.no_progress,
    )
    with bar, progress.using(bar):
        cells, setup, trained_ref, cell_files = _cells(args, bench, space, out, pool)
        if trained_ref is not None:
            reference, ref_name = trained_ref, "the labeled set"
        bar.phase("analyzing")
        t0 = time.perf_counter()
        result = analyze(
            space,
            cells,
            bench,
            reference=reference,
            reference_name=ref_name,
            k=args.top_k,
            seed=args.seed,
            setup=setup,
            space_sample=pool,
        )
        bar.phase("writing")
        written = result.write(
            out,
            figures_dir=args.figures_dir,
            formats=formats,
            figures=not args.no_figures,
        )
    q = result.data["quality"]
    g, cov = q["generation"], q["coverage"]
    err = sys.stderr
    print(
        f"analyze: {space.name} {bench.describe().get('dataset', '')}; {setup['cells']}", file=err
    )
    nov = "n/a" if g["novelty"] is None else f"{g['novelty']:.3f}"
    print(
        f"validity {g['validity']:.3f}, uniqueness {g['uniqueness']:.3f}, novelty {nov}; "
        f"{cov['n_in_benchmark']}/{cov['n_valid']} valid cells known to the benchmark",
        file=err,
    )
    for r in q["thresholds"]:
        if r["available"]:
            gen_f, sp_f = r["generated"]["fraction"], r["space"]["fraction"]
            gtxt = "n/a" if gen_f is None else f"{100 * gen_f:.1f} %"
            print(f"  {r['label']}: generated {gtxt}, space {100 * sp_f:.1f} %", file=err)
        else:
            print(f"  {r['label']}: n/a ({r['reason']})", file=err)
    print(f"analysis took {time.perf_counter() - t0:.1f} s; wrote:", file=err)
    for path in [*cell_files, *written]:
        print(f"  {path}", file=err)
    return 0


def _cells(
    args: argparse.Namespace, bench: Any, space: Any, out: Path, pool: tuple[list[Any], str]
) -> tuple[list[Any], dict[str, Any], list[Any] | None, list[Path]]:
    """The cells to analyze (read, or generated by a loaded or freshly trained generator), what
    was done, the labeled set when it trained (None otherwise) and the cell files written."""
    from .. import progress

    written: list[Path] = []
    labeled = None
    if args.cells:
        cells = read_cells(space, args.cells, allow_empty=False)
        setup: dict[str, Any] = {"cells": f"read from {args.cells}"}
    else:
        with threads(args.threads):
            if args.model:
                gen = _load_generator(args.model, space, args.device)
                setup = {
                    "cells": f"generated by the saved generator {args.model}, class "
                    f"{args.condition}, seed {args.seed}"
                }
            else:
                gen, labeled, setup = _train(args, bench, space, out, pool)
                written.append(out / "labeled.txt")
            _check_condition(gen, args.condition)
            progress.phase(f"generating {args.n} cells")
            t0 = time.perf_counter()
            cells = gen.sample(args.condition, args.n, seed=args.seed)
            setup["generate_seconds"] = round(time.perf_counter() - t0, 2)
    _write_cells(space, [c for c in cells if space.is_valid(c)], out / "generated.txt")
    written.append(out / "generated.txt")
    return cells, setup, labeled, written
