"""Rank conditions, the conditional generator (AG), its decoders and the generation metrics.

1. Build SemiGAN-NAD's rank condition (eq. 11) from real NB201 validation accuracies (when
   ../shared/data is present) and look at its classes.
2. Push a discriminator's gradient through relaxed (straight-through) NB201 cells into AG.
3. Sample cells for the best class in NB201 and DARTS; report validity, uniqueness, novelty.

Run: python examples/generate_cells.py
"""

from __future__ import annotations

import numpy as np
import torch

from archperf import registry
from archperf.conditions import RankCondition
from archperf.metrics import evaluate_generation
from archperf.nn.discriminator import GINDiscriminator
from archperf.nn.generator import ConditionalGenerator
from archperf.paths import find_data_dir


def rank_condition() -> RankCondition:
    data = find_data_dir()
    csv = data / "nb201" / "nb201.csv" if data is not None else None
    if csv is None or not csv.is_file():
        print("no ../shared/data/nb201/nb201.csv: using a fixed threshold t = 90 %")
        return RankCondition(90.0)
    import pandas as pd

    y = pd.read_csv(csv, usecols=["cifar10_valid_val"])["cifar10_valid_val"].to_numpy()
    cond = RankCondition.from_quantile(y, 0.9)  # t = the 90th percentile: top 10 % is class 0
    counts = np.bincount(cond.encode(y), minlength=5)
    print(f"NB201 CIFAR-10 validation: t = {cond.threshold:.4f} %, step {cond.step} points")
    print("  cells per class 0..4:", counts.tolist())
    print("  class targets (for PP's γ3 term):", cond.target(np.arange(5)).round(3).tolist())
    return cond


def gradient_step(space_name: str) -> None:
    space = registry.create("search_space", space_name)
    gen = ConditionalGenerator(space, num_classes=5, seed=0)
    disc = GINDiscriminator(num_classes=5, num_ops=len(space.op_names), seed=0)
    opt = torch.optim.Adam(gen.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    cond = torch.zeros(32, dtype=torch.long)
    relaxed = gen(cond, *gen.sample_latent(32, g), generator=g)  # hard (straight-through)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(disc(relaxed, cond), torch.ones(32))
    opt.zero_grad()
    loss.backward()
    norms = {k: sum(float(p.grad.norm()) for p in ps) for k, ps in gen.parameter_groups().items()}
    opt.step()
    print(f"{space_name}: generator loss {loss.item():.4f}; gradient norm per block:")
    print("  " + ", ".join(f"{k} {v:.2e}" for k, v in norms.items()))


def sample(space_name: str) -> None:
    space = registry.create("search_space", space_name)
    gen = ConditionalGenerator(space, num_classes=5, seed=0)
    cells = gen.sample(0, 1000, seed=1)  # class 0 = the best rank class
    reference = space.sample(1000, seed=2)
    m = evaluate_generation(space, cells, reference)
    print(
        f"{space_name}: untrained AG, 1000 cells: validity {m.validity:.3f}, "
        f"uniqueness {m.uniqueness:.3f}, novelty vs 1000 random cells {m.novelty:.3f}"
    )
    print("  first:", space.to_text(cells[0]))


def main() -> None:
    rank_condition()
    gradient_step("nb201")
    for name in ("nb201", "darts"):
        sample(name)


if __name__ == "__main__":
    main()
