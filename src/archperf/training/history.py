"""``History``: per-epoch losses and held-out rank correlations of a training run."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .checkpoint import atomic_write_bytes

__all__ = ["History"]


@dataclass
class History:
    """Per-epoch mean losses and, with a held-out labeled split, PP's rank correlations."""

    epoch: list[int] = field(default_factory=list)
    loss_discriminator: list[float] = field(default_factory=list)
    loss_generator: list[float] = field(default_factory=list)
    loss_predictor: list[float] = field(default_factory=list)
    mse_labeled: list[float] = field(default_factory=list)
    heldout_kendall_tau: list[float | None] = field(default_factory=list)
    heldout_spearman_rho: list[float | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[Any]]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        atomic_write_bytes(Path(path), json.dumps(self.to_dict(), indent=2).encode("utf-8"))

    @classmethod
    def from_dict(cls, data: dict[str, list[Any]]) -> History:
        return cls(**{k: list(v) for k, v in data.items()})

    @classmethod
    def load(cls, path: str | Path) -> History:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def plot(self, path: str | Path) -> Path:
        """The three losses per epoch and, when training had a held-out set, its Kendall τ and
        Spearman ρ in a second panel (PNG or SVG by suffix)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        heldout = any(t is not None for t in self.heldout_kendall_tau)
        fig, axes = plt.subplots(1, 2 if heldout else 1, figsize=(10 if heldout else 5, 3.6))
        ax1 = axes[0] if heldout else axes
        ax1.plot(self.epoch, self.loss_discriminator, label="D")
        ax1.plot(self.epoch, self.loss_generator, label="AG")
        ax1.plot(self.epoch, self.loss_predictor, label="PP")
        ax1.set_xlabel("epoch")
        ax1.set_ylabel("mean loss")
        ax1.legend()
        if heldout:
            ax2 = axes[1]
            taus = [t if t is not None else math.nan for t in self.heldout_kendall_tau]
            rhos = [r if r is not None else math.nan for r in self.heldout_spearman_rho]
            ax2.plot(self.epoch, taus, label="Kendall τ")
            ax2.plot(self.epoch, rhos, label="Spearman ρ")
            ax2.set_xlabel("epoch")
            ax2.set_ylabel("held-out rank correlation")
            ax2.legend()
        fig.tight_layout()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=120)
        plt.close(fig)
        return out
