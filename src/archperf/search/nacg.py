"""NACG: neural architecture conditional generation (SemiGAN-NAD, Liu et al. 2024, §3.2).

Single round, as in the paper:

1. query ``N = budget − K`` distinct random cells (the labeled set);
2. train Bi-Arch2Perf on them plus an unlabeled pool of the space;
3. generate ``num_candidates`` cells under the best rank class (class 0), keep the valid ones
   the oracle can answer and has not queried, one per record;
4. predict each with PP and query the top ``K``; return the best queried cell by the search
   metric.

``NACG(rounds=R)`` (registered as ``nacg-mr``, "multi-round NACG") is our extension: it keeps
``R·K`` queries for the generation phase and, after each round of ``K`` queries, adds the new
labels and fine-tunes the trained model for ``finetune_epochs`` more epochs (warm start).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..benchmarks.base import Oracle
from ..errors import UsageError
from ..interfaces import EnumerableSpace, SearchSpace
from ..progress import phase, search_bar
from .base import (
    NotEnoughCellsError,
    SearchMethod,
    SearchOutcome,
    check_ints,
    draw_new,
    new_unique,
    trainer_overrides,
)
from .base import require_budget as _require_budget
from .ranking import Ranker, build_predictor, check_predictor

__all__ = ["CANDIDATES", "NACG", "multi_round_nacg"]

#: where each round's candidates come from
CANDIDATES = ("generator", "uniform")


class NACG(SearchMethod):
    """NACG on top of :class:`~archperf.training.bi_arch2perf.BiArch2Perf`.

    Parameters
    ----------
    top_k:
        ``K``, cells queried per generation round (paper: 5).
    num_candidates:
        ``M``, cells generated per round before filtering.
    trainer:
        :class:`~archperf.training.bi_arch2perf.TrainerConfig` fields (``seed`` and
        ``progress`` are set by the search; ``space`` is the oracle's).
    unlabeled_size:
        Size of the unlabeled pool: the whole space when it is enumerable and not larger,
        else this many uniform samples (unlabeled cells cost no queries).
    rounds:
        Generation rounds (1 = the paper's NACG).
    finetune_epochs:
        Epochs of warm-started training after each round but the last (``rounds > 1``).
    num_labeled:
        ``N``; default ``budget − rounds·K``.
    condition_class:
        The rank class to generate under (0 = best).
    stochastic:
        Sample the decoding instead of taking its argmax.
    paper:
        Train with the paper's trainer (:meth:`~archperf.training.bi_arch2perf.TrainerConfig.
        paper`: α = α_p = 0.5, the published D and AG losses); ``False``: the library's
        defaults (``nacg-mr`` uses them).
    max_generate_tries:
        Extra generation batches (with stochastic decoding) when fewer than ``K`` new cells
        came out; if still short, the rest are the PP-best cells of the unlabeled pool and
        ``info`` says how many (``filled_from_pool``).
    candidates:
        ``"generator"`` (default): AG proposes the candidates, as in the paper;
        ``"uniform"``: ``num_candidates`` uniform samples of the space instead, ranked the
        same way (the ablation that shows what the generator adds; AG is still trained).
    predictor, predictor_settings:
        ``None`` (default): PP ranks the generated cells.  The name of a registered
        ``arch_predictor`` (e.g. ``"xgb"``) and its arguments: that model, fitted on every
        labelled cell at the start of each round (seed = the search's), ranks them instead;
        Bi-Arch2Perf is still trained, for AG.
    """

    name = "nacg"

    def __init__(
        self,
        top_k: int = 5,
        num_candidates: int = 1000,
        trainer: dict[str, Any] | None = None,
        unlabeled_size: int = 20_000,
        rounds: int = 1,
        finetune_epochs: int = 15,
        num_labeled: int | None = None,
        condition_class: int = 0,
        stochastic: bool = False,
        max_generate_tries: int = 4,
        paper: bool = True,
        predictor: str | None = None,
        predictor_settings: dict[str, Any] | None = None,
        candidates: str = "generator",
    ) -> None:
        if candidates not in CANDIDATES:
            raise UsageError(
                f"candidates must be one of {', '.join(CANDIDATES)}, got {candidates!r}"
            )
        check_ints(
            ("top_k", top_k, 1),
            ("num_candidates", num_candidates, 1),
            ("unlabeled_size", unlabeled_size, 1),
            ("rounds", rounds, 1),
            ("finetune_epochs", finetune_epochs, 0),
            ("condition_class", condition_class, 0),
            ("max_generate_tries", max_generate_tries, 0),
        )
        if num_labeled is not None:
            check_ints(("num_labeled", num_labeled, 0))
        if num_labeled is not None and num_labeled < 2:
            raise UsageError(
                f"num_labeled must be >= 2 (Bi-Arch2Perf needs two labels), got {num_labeled}"
            )
        trainer = trainer_overrides(trainer)
        self.paper = bool(paper)
        self.trainer = trainer
        self._config(trainer)  # validate early, clear errors
        self.top_k = top_k
        self.num_candidates = num_candidates
        self.unlabeled_size = unlabeled_size
        self.rounds = rounds
        self.finetune_epochs = finetune_epochs
        self.num_labeled = num_labeled
        self.condition_class = condition_class
        self.stochastic = stochastic
        self.max_generate_tries = max_generate_tries
        self.predictor, self.predictor_settings = check_predictor(predictor, predictor_settings)
        self.candidates = candidates

    def config(self) -> dict[str, Any]:
        return {
            "top_k": self.top_k,
            "num_candidates": self.num_candidates,
            "trainer": dict(self.trainer),
            "unlabeled_size": self.unlabeled_size,
            "rounds": self.rounds,
            "finetune_epochs": self.finetune_epochs,
            "num_labeled": self.num_labeled,
            "condition_class": self.condition_class,
            "stochastic": self.stochastic,
            "max_generate_tries": self.max_generate_tries,
            "paper": self.paper,
            # only when set: the configs (and run keys) of PP-ranked searches stay as they were
            **(
                {"predictor": self.predictor, "predictor_settings": dict(self.predictor_settings)}
                if self.predictor is not None
                else {}
            ),
            **({"candidates": self.candidates} if self.candidates != "generator" else {}),
        }

    def _config(self, fields: dict[str, Any]) -> Any:
        """The trainer config: the paper's (:meth:`TrainerConfig.paper`) or the library's
        defaults, under the given fields."""
        from ..training.bi_arch2perf import TrainerConfig

        merged = {**fields, "progress": False}
        if self.paper:
            return TrainerConfig.paper(**merged)
        return TrainerConfig.from_dict(merged)

    # ------------------------------------------------------------------------------ pieces
    def _pool(self, space: SearchSpace[Any], rng: np.random.Generator) -> list[Any]:
        if isinstance(space, EnumerableSpace) and len(space) <= self.unlabeled_size:
            return list(space.enumerate())
        return list(space.sample(self.unlabeled_size, rng))

    def _candidates(
        self, trainer: Any, oracle: Oracle[Any], seed: int, round_: int
    ) -> tuple[list[Any], dict[str, Any]]:
        """New answerable cells from the generator (or uniform samples of the space), one per
        record, with statistics."""
        gen = trainer.generator
        space = oracle.space
        found: list[Any] = []
        taken: set[int] = set()
        stats: dict[str, Any] = {
            "generated": 0,
            "distinct_records": 0,
            "new_answerable": 0,
            "batches": 0,
        }
        distinct: set[int] = set()
        for attempt in range(1 + self.max_generate_tries):
            stochastic = self.stochastic or attempt > 0
            batch_seed = int(np.random.SeedSequence([seed, round_, attempt]).generate_state(1)[0])
            if self.candidates == "uniform":
                assert space is not None  # _search refuses an oracle without a space
                cells = list(space.sample(self.num_candidates, np.random.default_rng(batch_seed)))
            else:
                cells = gen.sample(
                    self.condition_class,
                    self.num_candidates,
                    seed=batch_seed,
                    stochastic=stochastic,
                )
            stats["generated"] += len(cells)
            stats["batches"] += 1
            distinct.update(r for r in oracle.records_of(cells).tolist() if r >= 0)
            found += new_unique(oracle, cells, taken)[0]
            if len(found) >= self.top_k:
                break
        if self.candidates != "generator":
            stats["candidates"] = self.candidates
        stats["distinct_records"] = len(distinct)
        stats["new_answerable"] = len(found)
        return found, stats

    # ------------------------------------------------------------------------------ search
    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        with search_bar(oracle, self.name):  # a bar on a terminal unless one is already shown
            return self._search(oracle, seed)

    def _search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        from ..training.bi_arch2perf import BiArch2Perf

        space = oracle.space
        if space is None:
            raise ValueError("NACG needs the oracle's search space")
        remaining = _require_budget(oracle, self.name)
        generation = self.rounds * self.top_k
        n_labeled = remaining - generation if self.num_labeled is None else self.num_labeled
        if n_labeled < 2 or n_labeled + generation > remaining:
            raise UsageError(too_small_budget(self, remaining, n_labeled, generation))
        build_predictor(self.predictor, self.predictor_settings, space, int(seed))  # fail early
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        phase(f"{n_labeled} random cells")
        labeled = draw_new(oracle, n_labeled, rng)
        labels = oracle.query(labeled)
        pool = self._pool(space, rng)

        config = self._config(
            {**self.trainer, "space": getattr(space, "name", "custom"), "seed": int(seed)}
        )
        trainer = BiArch2Perf(config, space=space)
        t_train = time.perf_counter()
        phase("training")
        trainer.fit(labeled, labels, pool)
        train_seconds = time.perf_counter() - t_train
        ranker = Ranker(self.predictor, self.predictor_settings, space, int(seed), trainer)

        rounds_info: list[dict[str, Any]] = []
        all_cells: list[Any] = list(labeled)
        all_labels: list[float] = [float(v) for v in labels]
        for r in range(self.rounds):
            step = f"round {r + 1}/{self.rounds}: " if self.rounds > 1 else ""
            if r > 0:
                phase(f"{step}fine-tuning")
                t_ft = time.perf_counter()
                trainer.fit(
                    all_cells,
                    np.asarray(all_labels),
                    pool,
                    warm_start=True,
                    epochs=self.finetune_epochs,
                )
                train_seconds += time.perf_counter() - t_ft
            ranker.fit(all_cells, all_labels)
            phase(f"{step}generating")
            cands, stats = self._candidates(trainer, oracle, seed, r)
            chosen = self._select(ranker, cands, self.top_k)
            filled = 0
            if len(chosen) < self.top_k:
                filled = self.top_k - len(chosen)
                chosen += self._fill_from_pool(ranker, oracle, pool, cands, filled)
            preds = ranker.predict(chosen) if chosen else np.zeros(0)
            values = oracle.query(chosen)
            all_cells += chosen
            all_labels += [float(v) for v in values]
            rounds_info.append(
                {
                    **stats,
                    "filled_from_pool": filled,
                    "predicted": [round(float(p), 4) for p in preds],
                    "values": [float(v) for v in values],
                    "condition_threshold": _threshold(trainer),
                }
            )
        return SearchOutcome.from_oracle(
            oracle,
            num_labeled=n_labeled,
            rounds=rounds_info,
            device=str(trainer.device),
            train_seconds=round(train_seconds, 3),
            search_seconds=round(time.perf_counter() - t0, 3),
            final_mse_labeled=trainer.history.mse_labeled[-1]
            if trainer.history.mse_labeled
            else None,
            **({"ranker": self.predictor} if self.predictor is not None else {}),
        )

    @staticmethod
    def _select(trainer: Any, cands: Sequence[Any], k: int) -> list[Any]:
        """The ``k`` best of ``cands`` by ``trainer.predict`` (PP, or a :class:`Ranker`)."""
        if not cands:
            return []
        pred = trainer.predict(cands)
        order = np.argsort(-pred, kind="stable")[:k]
        return [cands[int(i)] for i in order]

    @staticmethod
    def _fill_from_pool(
        trainer: Any, oracle: Oracle[Any], pool: Sequence[Any], taken: Sequence[Any], n: int
    ) -> list[Any]:
        skip = set(oracle.records_of(taken).tolist()) if taken else set()
        new = new_unique(oracle, pool, skip)[0]
        if len(new) < n:
            raise NotEnoughCellsError(f"only {len(new)} new answerable cells left in the pool")
        pred = trainer.predict(new)
        order = np.argsort(-pred, kind="stable")[:n]
        return [new[int(i)] for i in order]


def too_small_budget(method: NACG, remaining: int, n_labeled: int, generation: int) -> str:
    """Why ``remaining`` queries cannot run ``method``, in the user's terms (options named)."""
    name = "nacg" if method.rounds == 1 else "nacg-mr"
    rounds = f"{method.rounds} round(s) × top_k={method.top_k}"
    if method.num_labeled is None:
        need = 2 + generation
        return (
            f"{name} needs a budget of at least {need} (2 labeled cells to train on + {rounds} "
            f"generated cells), got {remaining}: raise --budget, or lower top_k / rounds "
            "(--set top_k=N)"
        )
    need = n_labeled + generation
    return (
        f"{name} needs a budget of at least {need} (num_labeled={n_labeled} + {rounds} generated "
        f"cells), got {remaining}: raise --budget, or lower num_labeled / top_k (--set KEY=N)"
    )


def _threshold(trainer: Any) -> float | None:
    cond = trainer.condition
    th = None if cond is None else cond.best_class_threshold
    return None if th is None else round(float(th), 4)


def multi_round_nacg(**kwargs: Any) -> NACG:
    """Multi-round NACG (our extension): ``NACG(rounds=5, ...)`` unless ``rounds`` is given."""
    kwargs.setdefault("rounds", 5)
    kwargs.setdefault("paper", False)
    check_ints(("rounds", kwargs["rounds"], 1))
    if kwargs["rounds"] < 2:
        raise UsageError("multi-round NACG needs rounds >= 2; use 'nacg' for a single round")
    return NACG(**kwargs)


# the keyword arguments are NACG's: say so to inspect.signature (archperf search checks --set)
multi_round_nacg.__signature__ = inspect.signature(NACG)  # type: ignore[attr-defined]
