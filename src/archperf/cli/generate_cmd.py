"""``archperf generate``: sample cells from a (saved or untrained) conditional generator.

Cells go to stdout (or ``-o FILE``) one per line in the space's text form; validity, uniqueness
and novelty go to stderr.  torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import registry
from .._io import read_cells
from .runtime_args import add_device_arg, checked_device


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate cells with a conditional generator (AG); metrics on stderr",
        description=(
            "Sample N cells for a condition from a saved generator (--model DIR) or a freshly "
            "initialised one (--untrained). Cells are written one per line in the space's text "
            "form; validity, uniqueness and novelty (against --reference) go to stderr."
        ),
    )
    p.add_argument("--space", required=True, help="search space (nb101, nb201, darts, ...)")
    p.add_argument("-n", type=int, default=100, help="number of cells (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed for latents, noise and init")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--model",
        metavar="DIR",
        help="a saved generator: the folder trainer.save(DIR) wrote (DIR/generator is used) or "
        "one written by save_component",
    )
    src.add_argument(
        "--untrained", action="store_true", help="a freshly initialised generator (seeded)"
    )
    p.add_argument(
        "--condition",
        help="condition value: a class id (0 = best rank class, the default) or, for a "
        "continuous generator, a number (required then)",
    )
    p.add_argument(
        "--num-classes",
        type=int,
        default=5,
        help="condition classes of an --untrained generator (default 5; 0 = continuous)",
    )
    p.add_argument("--stochastic", action="store_true", help="draw the decoding, not argmax")
    p.add_argument("--reference", metavar="FILE", help="cells (one per line) for novelty")
    p.add_argument("-o", "--output", metavar="FILE", help="write cells here instead of stdout")
    add_device_arg(
        p,
        help="where the generator runs: auto (CUDA when available, else CPU), cpu (the "
        "default) or cuda; a seed gives other cells on a GPU than on a CPU",
    )
    p.set_defaults(func=run)


def _load_generator(args: argparse.Namespace, space: Any) -> Any:
    from ..nn.generator import ConditionalGenerator
    from ..runtime import resolve_device

    device = resolve_device(args.device or "cpu")
    if args.model:
        from ..nn.serialization import load_component

        gen = load_component(args.model, expected_kind="generator", device=device)
        gen_space = getattr(getattr(gen, "space", None), "name", None)
        if gen_space != space.name:
            raise ValueError(
                f"the generator in {args.model} is for space {gen_space!r}, not {space.name!r}"
            )
        return gen
    if args.num_classes < 0:
        raise ValueError("--num-classes must be >= 0")
    num_classes = args.num_classes or None
    return ConditionalGenerator(space, num_classes=num_classes, seed=args.seed).to(device)


def _condition(args: argparse.Namespace, gen: Any) -> float | int:
    if getattr(gen, "num_classes", None) is None:
        if args.condition is None:
            raise ValueError("this generator has a continuous condition: pass --condition VALUE")
        try:
            return float(args.condition)
        except ValueError:
            raise ValueError(f"--condition must be a number, got {args.condition!r}") from None
    if args.condition is None:
        return 0
    try:
        value = int(args.condition)
    except ValueError:
        raise ValueError(f"--condition must be a class id, got {args.condition!r}") from None
    if not 0 <= value < gen.num_classes:
        raise ValueError(f"--condition {value} is not a class id in 0..{gen.num_classes - 1}")
    return value


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ValueError("-n must be >= 1")
    checked_device(args)
    space = registry.search_space(args.space)
    reference = read_cells(space, args.reference) if args.reference else None
    gen = _load_generator(args, space)
    cond = _condition(args, gen)
    cells = gen.sample(cond, args.n, seed=args.seed, stochastic=args.stochastic)

    from ..metrics import evaluate_generation

    m = evaluate_generation(space, cells, reference)
    lines = "".join(space.to_text(c) + "\n" for c in cells)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(lines)
    else:
        sys.stdout.write(lines)
        sys.stdout.flush()
    err = sys.stderr
    origin = args.model if args.model else f"untrained (seed {args.seed})"
    print(f"generator: {origin}; space {space.name}; condition {cond}; n {m.n}", file=err)
    print(f"validity   {m.validity:.4f} ({m.n_valid}/{m.n})", file=err)
    print(f"uniqueness {m.uniqueness:.4f} ({m.n_unique} distinct canonical forms)", file=err)
    if reference is None:
        print(
            f"novelty    {m.novelty:.4f} (no --reference given: measured against nothing)",
            file=err,
        )
    else:
        print(
            f"novelty    {m.novelty:.4f} ({m.n_novel}/{m.n_valid} not among the "
            f"{m.reference_size} distinct cells of {args.reference})",
            file=err,
        )
    return 0
