"""``semigan-nad``: the library's recommended SemiGAN-NAD search (our named extension).

The paper's NACG (:mod:`archperf.search.nacg`) spends all but ``K`` queries on random cells and
generates once.  This search spends a few random queries, then works in rounds:

1. train Bi-Arch2Perf on every cell queried so far plus the unlabeled pool (later rounds
   continue from the previous weights for ``finetune_epochs``);
2. draw ``num_candidates`` candidates — from AG under the best rank class (``candidates=
   "generator"``), uniformly from the space (``"uniform"``), or the whole unlabeled pool
   (``"pool"``);
3. rank them with PP (averaged over each cell's equivalence class in the pool) and query the
   ``top_k`` best that are new: not queried, and not equivalent (``space.canonical``) to a
   queried cell, since an equivalent cell computes the same function.

It returns the best queried cell by the search metric.  Every round's candidate statistics and
PP's predictions of the queried cells go into ``info``.
"""

from __future__ import annotations

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
    trainer_overrides,
)
from .base import require_budget as _require_budget
from .ranking import Ranker, build_predictor, check_predictor

__all__ = [
    "CANDIDATE_SOURCES",
    "GENERATOR_RECIPE",
    "GENERATOR_TRAINER",
    "ROUND_DEFAULTS",
    "SemiGANNAD",
]

#: Where a round's candidates come from (``"auto"``, the default, picks one per space).
CANDIDATE_SOURCES = ("auto", "generator", "uniform", "pool")

#: Settings of ``candidates="uniform"``, ``"pool"`` and ``"generator"``, and of ``"auto"`` on
#: an enumerable space, for every argument left at ``None``: many rounds after a few random
#: cells, and mutants of the incumbents.
ROUND_DEFAULTS: dict[str, int] = {
    "initial": 10,
    "finetune_epochs": 10,
    "num_candidates": 2000,
    "unlabeled_size": 20_000,
    "parents": 5,
}

#: Settings of ``candidates="auto"`` on a space that cannot be enumerated (DARTS), for every
#: argument left at ``None``: AG proposes; ``rounds`` rounds of ``top_k`` after ``budget −
#: rounds·top_k`` random cells, no mutants, and a trainer (:data:`GENERATOR_TRAINER` under
#: ``trainer``) that keeps PP guidance of AG on: the settings of Table 3's multi-round NACG,
#: which it matches run for run.  Measured on NB301 (20 seeds, 150 queries): 96.23 ± 0.25,
#: against 95.82 ± 0.08 with uniform candidates in the same rounds and 96.14 ± 0.20 with
#: uniform candidates and :data:`ROUND_DEFAULTS` (bench/results/nacg_mr_nb301/, docs/search.md).
GENERATOR_RECIPE: dict[str, int] = {
    "rounds": 5,
    "finetune_epochs": 5,
    "num_candidates": 1000,
    "unlabeled_size": 5000,
    "parents": 0,
}
GENERATOR_TRAINER: dict[str, Any] = {
    "epochs": 30,
    "labeled_batch_size": 16,
    "unlabeled_batch_size": 64,
    "predictor_guidance_weight": 1.0,
}

#: Trainer settings of the search with :data:`ROUND_DEFAULTS` (any may be overridden through
#: ``trainer=``).  PP guidance of the generator is off: in these many small rounds it makes
#: AG's class-0 cells better by PP but the search worse (NB301, 11 seeds: 96.01 against 96.14
#: without it, worse in 10 of 11;
#: bench/results/semigan_search_nb301_generator_guidance_partial.json).
DEFAULT_TRAINER: dict[str, Any] = {
    "epochs": 40,
    "labeled_batch_size": 32,
    "predictor_guidance_weight": 0.0,
}


class SemiGANNAD(SearchMethod):
    """Multi-round SemiGAN-NAD search: generator proposes, PP ranks, the best new cells are
    queried.

    Parameters
    ----------
    initial:
        Random queries before the first training.
    top_k:
        Queries per round.
    candidates:
        ``"auto"`` (default): ``"uniform"`` on an enumerable space, and on one that cannot be
        enumerated (DARTS) ``"generator"`` with :data:`GENERATOR_RECIPE`;
        ``"uniform"`` (space samples), ``"generator"`` (AG under class 0) or ``"pool"``
        (every unlabeled cell) with :data:`ROUND_DEFAULTS`.  docs/search.md gives the
        measurements behind both.  ``initial``, ``num_candidates``, ``finetune_epochs``,
        ``unlabeled_size`` and ``parents`` left at ``None`` take those defaults.
    rounds:
        With ``initial`` unset: ``initial = budget − rounds·top_k`` (so exactly ``rounds``
        rounds); ``None`` (default, except in :data:`GENERATOR_RECIPE`): rounds until the
        budget is spent.
    num_candidates:
        Candidates drawn per round (``"generator"`` and ``"uniform"``).
    trainer:
        :class:`~archperf.training.bi_arch2perf.TrainerConfig` fields over
        :data:`DEFAULT_TRAINER`; ``adversarial`` defaults to True only for generator
        candidates (AG must be trained to propose).
    finetune_epochs:
        Warm-started epochs after each round.
    unlabeled_size:
        The unlabeled pool: the whole space when enumerable and not larger, else this many
        uniform samples.
    condition_class:
        The rank class AG generates under (0 = best).
    parents, mutations:
        Each round also offers PP ``mutations`` random mutants (``space.mutate``) of each of the
        ``parents`` best queried cells; 0 turns this off.
    predictor:
        ``None`` (default): PP ranks the candidates.  The name of a registered
        ``arch_predictor`` (e.g. ``"xgb"``): that model, fitted on every queried cell at the
        start of each round (seed = the search's), ranks them instead; with ``"uniform"`` or
        ``"pool"`` candidates Bi-Arch2Perf is then not trained at all.
    predictor_settings:
        Keyword arguments of that predictor (e.g. ``{"features": "path"}``).
    """

    name = "semigan-nad"

    def __init__(
        self,
        initial: int | None = None,
        top_k: int = 10,
        candidates: str = "auto",
        num_candidates: int | None = None,
        trainer: dict[str, Any] | None = None,
        finetune_epochs: int | None = None,
        unlabeled_size: int | None = None,
        condition_class: int = 0,
        parents: int | None = None,
        mutations: int = 20,
        predictor: str | None = None,
        predictor_settings: dict[str, Any] | None = None,
        rounds: int | None = None,
    ) -> None:
        given = {
            "initial": initial,
            "num_candidates": num_candidates,
            "finetune_epochs": finetune_epochs,
            "unlabeled_size": unlabeled_size,
            "parents": parents,
            "rounds": rounds,
        }
        lowest = {"initial": 2, "finetune_epochs": 0, "parents": 0}
        check_ints(
            ("top_k", top_k, 1),
            ("condition_class", condition_class, 0),
            ("mutations", mutations, 0),
            *((k, v, lowest.get(k, 1)) for k, v in given.items() if v is not None),
        )
        if candidates not in CANDIDATE_SOURCES:
            raise ValueError(f"candidates must be one of {CANDIDATE_SOURCES}, got {candidates!r}")
        self._given = given
        settings = {**ROUND_DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
        self.initial: int = settings["initial"]
        self.rounds: int | None = rounds
        self.top_k = top_k
        self.candidates = candidates
        self.num_candidates: int = settings["num_candidates"]
        self.trainer = trainer_overrides(trainer)
        self.finetune_epochs: int = settings["finetune_epochs"]
        self.unlabeled_size: int = settings["unlabeled_size"]
        self.condition_class = condition_class
        self.parents: int = settings["parents"]
        self.mutations = mutations
        self.predictor, self.predictor_settings = check_predictor(predictor, predictor_settings)
        self._trainer_config({})  # validate early, one clear error
        if candidates == "auto":
            self._generator_recipe()._trainer_config({})

    def config(self) -> dict[str, Any]:
        """The settings as given (``None``: chosen by ``candidates``, see
        :data:`ROUND_DEFAULTS` and :data:`GENERATOR_RECIPE`); a search's ``info["settings"]``
        has the ones it used."""
        return {
            **{k: v for k, v in self._given.items() if k != "rounds"},
            "top_k": self.top_k,
            "candidates": self.candidates,
            "trainer": dict(self.trainer),
            "condition_class": self.condition_class,
            "mutations": self.mutations,
            # only when set: the configs (and run keys) of PP-ranked searches stay as they were
            **(
                {"predictor": self.predictor, "predictor_settings": dict(self.predictor_settings)}
                if self.predictor is not None
                else {}
            ),
            **({"rounds": self.rounds} if self.rounds is not None else {}),
        }

    @property
    def _initial_from_rounds(self) -> bool:
        """``initial`` is ``budget − rounds·top_k`` (``rounds`` given, ``initial`` not)."""
        return self.rounds is not None and self._given["initial"] is None

    def settings(self) -> dict[str, Any]:
        """The settings this instance searches with (``candidates="auto"``: those of an
        enumerable space; :meth:`for_space` gives a space's)."""
        return {
            "initial": None if self._initial_from_rounds else self.initial,
            "rounds": self.rounds,
            "top_k": self.top_k,
            "candidates": self.candidates,
            "num_candidates": self.num_candidates,
            "trainer": dict(self.trainer),
            "finetune_epochs": self.finetune_epochs,
            "unlabeled_size": self.unlabeled_size,
            "parents": self.parents,
            "mutations": self.mutations,
        }

    def _generator_recipe(self) -> SemiGANNAD:
        """``candidates="auto"`` on a space that cannot be enumerated: AG proposes, with
        :data:`GENERATOR_RECIPE` and :data:`GENERATOR_TRAINER` under what was given."""
        recipe = dict(GENERATOR_RECIPE)
        if self._given["initial"] is not None and self._given["rounds"] is None:
            del recipe["rounds"]  # an explicit initial keeps the rounds open-ended
        return self._with("generator", recipe, {**GENERATOR_TRAINER, **self.trainer})

    def for_space(self, space: SearchSpace[Any]) -> SemiGANNAD:
        """The search this one runs on ``space``: itself unless ``candidates="auto"``, which
        means uniform candidates on an enumerable space and AG's otherwise."""
        if self.candidates != "auto":
            return self
        if isinstance(space, EnumerableSpace):
            return self._with("uniform", {}, self.trainer)
        return self._generator_recipe()

    def _with(
        self, candidates: str, defaults: dict[str, int], trainer: dict[str, Any]
    ) -> SemiGANNAD:
        """This search with another candidate source: ``defaults`` under the given settings."""
        given = {k: v for k, v in self._given.items() if v is not None}
        return SemiGANNAD(
            **(defaults | given),
            top_k=self.top_k,
            candidates=candidates,
            trainer=trainer,
            condition_class=self.condition_class,
            mutations=self.mutations,
            predictor=self.predictor,
            predictor_settings=self.predictor_settings,
        )

    def _trainer_config(self, fixed: dict[str, Any]) -> Any:
        from ..training.bi_arch2perf import TrainerConfig

        merged = {
            **DEFAULT_TRAINER,
            "adversarial": self.candidates == "generator",
            **self.trainer,
            "progress": False,
            **fixed,
        }
        cfg = TrainerConfig.from_dict(merged)
        if self.candidates == "generator" and not cfg.adversarial:
            raise ValueError("candidates='generator' needs a trained AG: trainer.adversarial=True")
        return cfg

    # ------------------------------------------------------------------------------ pieces
    def _pool(self, space: SearchSpace[Any], rng: np.random.Generator) -> list[Any]:
        if isinstance(space, EnumerableSpace) and len(space) <= self.unlabeled_size:
            return list(space.enumerate())
        return list(space.sample(self.unlabeled_size, rng))

    def _draw(self, trainer: Any, space: SearchSpace[Any], seed: int, round_: int) -> list[Any]:
        """This round's uniform or generated candidates (``"pool"`` is handled by the caller)."""
        batch_seed = int(np.random.SeedSequence([seed, round_]).generate_state(1)[0])
        if self.candidates == "uniform":
            return list(space.sample(self.num_candidates, np.random.default_rng(batch_seed)))
        return list(
            trainer.generator.sample(
                self.condition_class, self.num_candidates, seed=batch_seed, stochastic=True
            )
        )

    def _local(
        self,
        space: SearchSpace[Any],
        cells: Sequence[Any],
        labels: Sequence[float],
        rng: np.random.Generator,
    ) -> list[Any]:
        """``mutations`` mutants of each of the ``parents`` best queried cells: PP ranks them
        beside the proposals, so the search also refines around its incumbents."""
        if not self.parents or not self.mutations:
            return []
        best = np.argsort(-np.asarray(labels), kind="stable")[: self.parents]
        return [space.mutate(cells[int(i)], rng) for i in best for _ in range(self.mutations)]

    # ------------------------------------------------------------------------------ search
    def search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        with search_bar(oracle, self.name):  # a bar on a terminal unless one is already shown
            return self._search(oracle, seed)

    def _search(self, oracle: Oracle[Any], seed: int) -> SearchOutcome:
        from ..training.bi_arch2perf import BiArch2Perf

        space = oracle.space
        if space is None:
            raise ValueError("semigan-nad needs the oracle's search space")
        if self.candidates == "auto":
            return self.for_space(space)._search(oracle, seed)
        remaining = _require_budget(oracle, self.name)
        initial = self.initial
        if self._initial_from_rounds:
            assert self.rounds is not None
            initial = remaining - self.rounds * self.top_k
            if initial < 2:
                raise UsageError(
                    f"semigan-nad ({self.rounds} rounds × top_k={self.top_k} after random "
                    f"cells) needs a budget of at least {self.rounds * self.top_k + 2}, got "
                    f"{remaining}: raise --budget, or lower rounds / top_k (--set rounds=N)"
                )
        if remaining < initial + 1:
            raise UsageError(
                f"semigan-nad needs a budget of at least {initial + 1} (initial="
                f"{initial} random cells + at least 1 proposed cell), got {remaining}: "
                "raise --budget or lower initial (--set initial=N)"
            )
        build_predictor(self.predictor, self.predictor_settings, space, int(seed))  # fail early
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        phase(f"{initial} random cells")
        cells = draw_new(oracle, initial, rng)
        labels = [float(v) for v in oracle.query(cells)]
        seen = {space.canonical(c) for c in cells}
        pool = self._pool(space, rng)
        cfg = self._trainer_config({"space": getattr(space, "name", "custom"), "seed": int(seed)})
        # a named predictor ranks; Bi-Arch2Perf is then trained only when AG must propose
        use_trainer = self.predictor is None or self.candidates == "generator"
        trainer = BiArch2Perf(cfg, space=space) if use_trainer else None
        ranker = Ranker(self.predictor, self.predictor_settings, space, int(seed), trainer)
        train_seconds = 0.0
        n_rounds = -(-(remaining - initial) // self.top_k)  # for the progress display
        rounds: list[dict[str, Any]] = []
        r = 0
        exhausted = False
        while oracle.remaining and oracle.remaining > 0:
            t_fit = time.perf_counter()
            phase(f"round {r + 1}/{n_rounds}: {'training' if r == 0 else 'fine-tuning'}")
            if trainer is None:
                pass
            elif r == 0:
                trainer.fit(cells, np.asarray(labels), pool)
            else:
                trainer.fit(
                    cells, np.asarray(labels), pool, warm_start=True, epochs=self.finetune_epochs
                )
            ranker.fit(cells, labels)
            train_seconds += time.perf_counter() - t_fit
            k = min(self.top_k, int(oracle.remaining))
            phase(f"round {r + 1}/{n_rounds}: ranking candidates")
            local = self._local(space, cells, labels, rng)
            if self.candidates == "pool":  # the pool's predictions are already averaged
                drawn: Sequence[Any] = [*pool, *local]
                pred = ranker.predict_pool(pool, local)
            else:
                drawn = [*self._draw(trainer, space, seed, r), *local]
                pred = ranker.predict(drawn)
            chosen, keys, chosen_pred = _pick(oracle, space, drawn, pred, seen, k)
            n_proposed = len(chosen)
            if n_proposed < k:  # too few new proposals: top up with PP-ranked uniform cells
                try:
                    extra = draw_new(oracle, 20 * (k - n_proposed), rng)
                except NotEnoughCellsError:
                    extra = []
                if extra:
                    more = _pick(
                        oracle,
                        space,
                        extra,
                        ranker.predict(extra),
                        seen | set(keys),
                        k - len(chosen),
                    )
                    chosen, keys, chosen_pred = (
                        chosen + more[0],
                        keys + more[1],
                        chosen_pred + more[2],
                    )
            if not chosen:  # no new, answerable, non-equivalent cell left anywhere
                exhausted = True
                break
            values = oracle.query(chosen)
            cells += chosen
            labels += [float(v) for v in values]
            seen.update(keys)
            rounds.append(
                {
                    "drawn": len(drawn) - len(local),
                    "mutants": len(local),
                    "proposed": n_proposed,
                    "filled_uniform": len(chosen) - n_proposed,
                    "predicted": [round(p, 4) for p in chosen_pred],
                    "values": [float(v) for v in values],
                }
            )
            r += 1
        return SearchOutcome.from_oracle(
            oracle,
            initial=initial,
            settings={**self.settings(), "initial": initial},
            rounds=rounds,
            device=str(trainer.device) if trainer is not None else "cpu",
            exhausted=exhausted,
            train_seconds=round(train_seconds, 3),
            search_seconds=round(time.perf_counter() - t0, 3),
            **({"ranker": self.predictor} if self.predictor is not None else {}),
        )


def _pick(
    oracle: Oracle[Any],
    space: SearchSpace[Any],
    cands: Sequence[Any],
    pred: np.ndarray,
    seen: set[str],
    k: int,
    chunk: int = 256,
) -> tuple[list[Any], list[str], list[float]]:
    """The ``k`` best-predicted candidates the oracle can answer that are not queried, not
    equivalent to a cell in ``seen`` and pairwise not equivalent: cells, canonical keys and
    predictions.  Walks the ranking in chunks, so a large pool is not converted whole."""
    order = np.argsort(-np.asarray(pred), kind="stable")
    chosen: list[Any] = []
    keys: list[str] = []
    values: list[float] = []
    taken_keys: set[str] = set()
    taken_records: set[int] = set()
    for start in range(0, len(order), chunk):
        sub = []
        for i in order[start : start + chunk].tolist():
            key = space.canonical(cands[i])
            if key not in seen and key not in taken_keys:
                sub.append((i, key))
        if not sub:
            continue
        records, known, queried = oracle.status([cands[i] for i, _ in sub])
        for (i, key), rec, good in zip(
            sub, records.tolist(), (known & ~queried).tolist(), strict=True
        ):
            if good and rec not in taken_records and key not in taken_keys:
                chosen.append(cands[i])
                keys.append(key)
                values.append(float(pred[i]))
                taken_keys.add(key)
                taken_records.add(rec)
                if len(chosen) == k:
                    return chosen, keys, values
    return chosen, keys, values
