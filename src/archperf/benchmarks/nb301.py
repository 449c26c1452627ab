"""NAS-Bench-301 oracles over DARTS genotypes.

Two backends predict the CIFAR-10 **validation accuracy (%)** of a DARTS genotype:

- ``"yahpo"`` (default): YAHPO Gym's NB301 surrogate, an ONNX network trained on the NB301
  training data, run with ``onnxruntime`` (imported lazily).  Every result of this backend is
  labelled ``"NB301 (YAHPO surrogate)"``: it is *not* the official NB301 surrogate (its ranking
  agrees with the official XGBoost surrogate with Spearman about 0.9).
- ``"official"``: the official ``nasbench301`` ensemble (``nb_models_0.9`` / ``nb_models_1.0``
  from the NB301 release), when the user has the package and its model files.  ``nasbench301``
  0.3 imports only with old pins (ConfigSpace 0.6.1, numpy<2, pandas<3), so it is tested in the
  nox session ``nb301_official`` only.

NB301 is a surrogate of validation accuracy: there is no test metric.  ``report()`` returns the
same surrogate validation prediction, and :meth:`NB301Benchmark.describe` says so.
"""

from __future__ import annotations

import json
import os
import weakref
from collections import namedtuple
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataFileError
from ..interfaces import Benchmark
from ..paths import find_data_dir, no_data_reason
from .base import GrowingRecordIndex, MetricSource, Oracle, Report, check_protocol
from .model_process import Account, ModelProcess

__all__ = [
    "N_FEATURES",
    "YAHPO_LABEL",
    "NB301Benchmark",
    "OfficialNB301Ensemble",
    "YahpoNB301Surrogate",
]

YAHPO_LABEL = "NB301 (YAHPO surrogate)"
OFFICIAL_LABEL = "NB301 (official surrogate ensemble)"
ONNX_FILE = "nb301/yahpo_nb301_surrogate.onnx"
ENCODING_FILE = "nb301/encoding.json"
N_FEATURES = 34
FINAL_EPOCH = 98
#: Number of integer codes per ``x_cat`` column (``encoding.json``): 28 edges with 8 codes
#: (``#na#`` + 7 ops), then ``inputs_node_{normal,reduce}_{3,4,5}`` with 4, 7, 11 codes.
CARDINALITIES = np.array([8] * 28 + [4, 7, 11] * 2, dtype=np.int64)
_PREFIX = "NetworkSelectorDatasetInfo_COLON_darts_COLON_"
_COLUMNS = (
    [f"edge_normal_{i}" for i in range(14)]
    + [f"edge_reduce_{i}" for i in range(14)]
    + [f"inputs_node_normal_{i}" for i in (3, 4, 5)]
    + [f"inputs_node_reduce_{i}" for i in (3, 4, 5)]
)

#: The genotype type the official ``nasbench301`` package expects (DARTS' own namedtuple).
_NB301Genotype = namedtuple("_NB301Genotype", "normal normal_concat reduce reduce_concat")

_HOW_TO_GET = (
    "archperf's NB301 backend 'yahpo' needs YAHPO Gym's NB301 surrogate at "
    "<data dir>/nb301/yahpo_nb301_surrogate.onnx (set $ARCHPERF_DATA_DIR or pass data_dir); "
    "for the official NB301 surrogate use backend='official' with the NB301 model files "
    "(nb_models_0.9 or nb_models_1.0 from the nasbench301 release)"
)


#: Known answers of the intact surrogate (validation accuracy, %) for
#: :func:`known_answer_inputs`.  Measured with onnxruntime on ``nb301/yahpo_nb301_surrogate.onnx``
#: of the project's data folder (sha256 709479aa684763bcc7670f7b503cf341cfb520df2ca357e53a0ec433
#: a9f05277; its outputs equal the published YAHPO model's).  A known answer rather than a hash:
#: it checks what the model computes, so any intact copy of the model passes (a re-export, the
#: original with its own bytes) and any damage that changes predictions fails.  The 11 inputs use
#: every code of every column, so every embedding row is exercised; in a trial of 60 random
#: single-bit flips (exponent bit) every flip that moved any of 3,000 random predictions by more
#: than 0.01 also moved these.
KNOWN_ANSWERS = (
    94.9115,
    55.6143,
    94.6787,
    82.6658,
    87.581,
    88.4103,
    95.812,
    88.6649,
    94.8048,
    84.0349,
    94.3538,
)
#: Allowed difference (percentage points): float32 results across onnxruntime versions and
#: CPUs differ by about 1e-5.
KNOWN_ANSWER_TOLERANCE = 0.01


def known_answer_inputs() -> tuple[np.ndarray, np.ndarray]:
    """The inputs of :data:`KNOWN_ANSWERS`: row ``r`` has code ``r % cardinality`` in each
    column, at epoch 98 (even rows) or ``1 + 7 r`` (odd rows)."""
    rows = len(KNOWN_ANSWERS)
    x_cat = np.array([[r % int(c) for c in CARDINALITIES] for r in range(rows)], dtype=np.int32)
    x_cont = np.array([[98.0 if r % 2 == 0 else 1.0 + 7 * r] for r in range(rows)], np.float32)
    return x_cat, x_cont


def check_features(x_cat: Any) -> np.ndarray:
    """Validate NB301 surrogate features: integer ``[B, 34]`` codes within each column's range."""
    x = np.asarray(x_cat)
    if x.ndim != 2 or x.shape[1] != N_FEATURES:
        raise ValueError(f"NB301 features must have shape [B, {N_FEATURES}], got {x.shape}")
    if x.size and not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"NB301 features must be integer codes, got dtype {x.dtype}")
    if x.size:
        bad = (x < 0) | (x >= CARDINALITIES[None, :])
        if bad.any():
            row, col = (int(v[0]) for v in np.nonzero(bad))
            raise ValueError(
                f"NB301 feature row {row} column {col} ({_COLUMNS[col]}) has code "
                f"{int(x[row, col])}, outside 0..{int(CARDINALITIES[col]) - 1}"
            )
    return x.astype(np.int32, copy=False)


class YahpoNB301Surrogate:
    """The YAHPO NB301 ONNX surrogate: features ``[B, 34]`` → validation accuracy (%).

    ``epoch`` is the fidelity input ``x_cont`` (1..98; 98 = the final, full-budget value).
    """

    label = YAHPO_LABEL

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        epoch: float = FINAL_EPOCH,
        threads: int | None = None,
    ) -> None:
        if not 1 <= epoch <= FINAL_EPOCH:
            raise ValueError(f"epoch must be in 1..{FINAL_EPOCH}, got {epoch}")
        if path is None:
            root = find_data_dir(data_dir)
            if root is None:
                raise DataFileError(f"{no_data_reason(data_dir)}; {_HOW_TO_GET}")
            path = root / ONNX_FILE
        self.path = Path(path)
        self.epoch = float(epoch)
        if not self.path.is_file():
            raise DataFileError(f"NB301 surrogate file {self.path} not found; {_HOW_TO_GET}")
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the NB301 'yahpo' backend needs onnxruntime: pip install 'archperf[nb301]'"
            ) from exc
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise DataFileError(
                f"{self.path} is not a loadable ONNX model ({type(exc).__name__}: {exc}); "
                f"{_HOW_TO_GET}"
            ) from exc
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = self._session.get_outputs()
        if set(inputs) != {"x_cat", "x_cont"} or len(outputs) != 1:
            raise DataFileError(
                f"{self.path} is not the YAHPO NB301 surrogate: expected inputs x_cat [B,34] "
                f"and x_cont [B,1] and one output, found inputs {sorted(inputs)} and "
                f"{len(outputs)} outputs; {_HOW_TO_GET}"
            )
        self._output = outputs[0].name
        self._check_known_answer()

    def _check_known_answer(self) -> None:
        """Run :data:`KNOWN_ANSWER_INPUTS` and compare with :data:`KNOWN_ANSWERS`.

        The model loads and runs even with flipped bits in its weights, then predicts nonsense
        (32-47 % instead of 94 %) with exit status 0; this catches it at load in about 1 ms.
        """
        x_cat, x_cont = known_answer_inputs()
        try:
            (y,) = self._session.run([self._output], {"x_cat": x_cat, "x_cont": x_cont})
            got = np.asarray(y, dtype=np.float64)[:, 0]
        except Exception as exc:  # onnxruntime raises its own exception types
            raise DataFileError(
                f"{self.path} fails on its check inputs ({type(exc).__name__}: {exc}); "
                f"the file is damaged or not the YAHPO NB301 surrogate; {_HOW_TO_GET}"
            ) from exc
        want = np.array(KNOWN_ANSWERS)
        if got.shape != want.shape or not np.all(np.abs(got - want) <= KNOWN_ANSWER_TOLERANCE):
            worst = int(np.nanargmax(np.abs(got - want))) if got.shape == want.shape else 0
            raise DataFileError(
                f"{self.path} predicts {got[worst]:.4f} % for check input {worst} where the "
                f"intact YAHPO NB301 surrogate predicts {want[worst]:.4f} %: the file is damaged "
                f"(download it again) or is another model; {_HOW_TO_GET}"
            )

    def predict_features(self, x_cat: Any, batch_size: int = 4096) -> np.ndarray:
        """Validation accuracy (%) ``float64 [B]`` for integer features ``[B, 34]``."""
        x = check_features(x_cat)
        out = np.empty(x.shape[0], dtype=np.float64)
        for start in range(0, x.shape[0], batch_size):
            chunk = np.ascontiguousarray(x[start : start + batch_size])
            cont = np.full((chunk.shape[0], 1), self.epoch, dtype=np.float32)
            (y,) = self._session.run([self._output], {"x_cat": chunk, "x_cont": cont})
            out[start : start + chunk.shape[0]] = y[:, 0]
        return out


def load_encoding(data_dir: str | os.PathLike[str] | None = None) -> dict[str, dict[str, int]]:
    """``encoding.json`` of the YAHPO surrogate, keyed by the short column names."""
    root = find_data_dir(data_dir)
    if root is None:
        raise DataFileError(f"{no_data_reason(data_dir)}; {_HOW_TO_GET}")
    p = root / ENCODING_FILE
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFileError(f"cannot read NB301 encoding {p}: {exc}; {_HOW_TO_GET}") from exc
    return {k.removeprefix(_PREFIX): v for k, v in raw.items()}


# --------------------------------------------------------------------------------------------
# The official nasbench301 ensemble (optional; see the nox session ``nb301_official``)
# --------------------------------------------------------------------------------------------


class OfficialNB301Ensemble:
    """The official ``nasbench301`` surrogate ensemble in ``model_dir``.

    ``model_dir`` is an ensemble directory of the NB301 release, e.g.
    ``nb_models_1.0/xgb_v1.0``: members ``*/surrogate_model.model`` with ``model_config.json``
    and ``data_config.json`` beside them.  Predictions are the ensemble mean without noise.
    """

    label = OFFICIAL_LABEL

    def __init__(self, model_dir: str | os.PathLike[str]) -> None:
        self.path = Path(model_dir)
        members = sorted(self.path.rglob("surrogate_model.model")) if self.path.is_dir() else []
        if not members:
            raise DataFileError(
                f"{self.path} holds no NB301 surrogate ensemble (no */surrogate_model.model); "
                "expected an ensemble directory of the NB301 model files, e.g. "
                "nb_models_1.0/xgb_v1.0 or nb_models_0.9/xgb_v0.9 from the nasbench301 release"
            )
        for m in members:
            for cfg in ("model_config.json", "data_config.json"):
                if not (m.parent / cfg).is_file():
                    raise DataFileError(f"{m.parent} lacks {cfg} (official ensemble layout)")
        try:
            import nasbench301
        except Exception as exc:  # ImportError, or old pins broken by the environment
            raise ImportError(
                "the NB301 'official' backend needs the nasbench301 package (0.3), which imports "
                "only with ConfigSpace==0.6.1, numpy<2 and pandas<3 (see the nox session "
                f"nb301_official): {type(exc).__name__}: {exc}"
            ) from exc
        self._api = nasbench301.load_ensemble(str(self.path))
        self.num_members = len(members)

    def predict_genotypes(self, genotypes: list[Any]) -> np.ndarray:
        """Ensemble-mean validation accuracy (%) of archperf genotypes."""
        from ..spaces.darts import CONCAT, DARTS_OPS

        out = np.empty(len(genotypes), dtype=np.float64)
        for i, g in enumerate(genotypes):
            ng = _NB301Genotype(
                normal=[(DARTS_OPS[op], src) for src, op in g.normal],
                normal_concat=list(CONCAT),
                reduce=[(DARTS_OPS[op], src) for src, op in g.reduce],
                reduce_concat=list(CONCAT),
            )
            pred = self._api.predict(config=ng, representation="genotype", with_noise=False)
            out[i] = float(np.asarray(pred).reshape(-1)[0])
        return out


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------

SOURCES = ("yahpo", "official")


class _Surrogate:
    """The surrogate model and how to feed it genotypes, run inside the model process
    (:func:`build_surrogate`); no cache, no benchmark, no other data."""

    __slots__ = ("_backend", "_batch_size", "_darts", "label", "path")

    def __init__(self, backend: Any, darts: Any, batch_size: int) -> None:
        self._backend = backend
        self._darts = darts
        self._batch_size = batch_size
        self.label: str = backend.label
        self.path: str = str(Path(backend.path).resolve())

    def evaluate(self, reps: list[Any]) -> np.ndarray:
        """Validation accuracy (%) of canonical genotypes ``reps``."""
        if isinstance(self._backend, YahpoNB301Surrogate):
            vals = self._backend.predict_features(
                self._darts.to_nb301_features(reps), batch_size=self._batch_size
            )
        else:
            vals = self._backend.predict_genotypes(reps)
        vals = np.asarray(vals, dtype=np.float64)
        if not np.all(np.isfinite(vals)):
            raise RuntimeError(f"{self.label} returned non-finite predictions")
        return vals


def build_surrogate(
    source: str,
    path: str | None,
    data_dir: str | None,
    epoch: float,
    threads: int | None,
    model_dir: str | None,
    batch_size: int,
) -> _Surrogate:
    """Build the surrogate of :class:`NB301Benchmark` (in its model process)."""
    from ..spaces.darts import DartsSpace

    backend: YahpoNB301Surrogate | OfficialNB301Ensemble
    if source == "yahpo":
        backend = YahpoNB301Surrogate(path, data_dir=data_dir, epoch=epoch, threads=threads)
    else:
        if model_dir is None:
            raise DataFileError(
                "the NB301 'official' backend needs model_dir: an ensemble directory of "
                "the NB301 model files (nb_models_1.0/xgb_v1.0 or nb_models_0.9/xgb_v0.9)"
            )
        backend = OfficialNB301Ensemble(model_dir)
    return _Surrogate(backend, DartsSpace(), batch_size)


class _SurrogateMetric(MetricSource):
    """An oracle's metric: the surrogate value per canonical genotype, cached per oracle.

    It holds the oracle's own record index and an :class:`~.model_process.Account` of the
    model process, never the benchmark or the model: every evaluation it can ask for is
    counted by the model process against the oracle's budget.
    """

    __slots__ = ("_account", "_darts", "_done", "_records")

    def __init__(self, account: Account, darts: Any, records: GrowingRecordIndex[Any]) -> None:
        self._account = account
        self._darts = darts
        self._records = records
        self._done: dict[int, float] = {}

    def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
        todo: dict[int, Any] = {}
        for j, i in enumerate(indices.tolist()):
            if i not in self._done and i not in todo:
                arch = self._records.arch_at(i) if archs is None else archs[j]
                todo[i] = self._darts.canonical_genotype(arch)
        if todo:
            keys = [str(self._records.key_at(i)) for i in todo]
            vals = self._account.evaluate(keys, list(todo.values()))
            self._done.update(zip(todo, (float(v) for v in vals), strict=True))
        return np.array([self._done[i] for i in indices.tolist()], dtype=np.float64)


class NB301Benchmark(Benchmark[Any]):
    """NAS-Bench-301 (DARTS space, CIFAR-10): surrogate-predicted validation accuracy (%).

    ``source="yahpo"`` (default) runs YAHPO Gym's ONNX surrogate, labelled
    ``"NB301 (YAHPO surrogate)"``; ``source="official"`` loads the official ensemble from
    ``model_dir``.  Genotypes with the same ``canonical`` form are one record: the canonical
    representative is evaluated once and cached, so equivalent written forms get the same value.

    There is no test metric in NB301: :meth:`report` returns the same surrogate prediction of
    validation accuracy, and :meth:`describe` says so.
    """

    name = "nb301"

    def __init__(
        self,
        dataset: str = "cifar10",
        source: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        model_dir: str | os.PathLike[str] | None = None,
        path: str | os.PathLike[str] | None = None,
        epoch: float = FINAL_EPOCH,
        threads: int | None = None,
        protocol: str = "honest",
        space: Any = None,
        batch_size: int = 4096,
    ) -> None:
        if dataset != "cifar10":
            raise ValueError(f"NAS-Bench-301 has only dataset 'cifar10', got {dataset!r}")
        if source is not None and source not in SOURCES and path is None and model_dir is None:
            # --source FILE (the CLI help says FILE): an .onnx surrogate file, or a directory
            # holding the official ensemble
            if Path(source).is_dir():
                source, model_dir = "official", source
            elif os.sep in source or "/" in source or "." in source or Path(source).exists():
                source, path = "yahpo", source
        source = source or ("official" if model_dir is not None else "yahpo")
        if source not in SOURCES:
            raise ValueError(
                f"unknown NB301 source {source!r}; sources are: {', '.join(SOURCES)}, or an "
                ".onnx surrogate file, or an official ensemble directory"
            )
        self.protocol = check_protocol(protocol)
        if space is None:
            from ..spaces.darts import DartsSpace

            space = DartsSpace()
        self.space = space
        self._darts: Any = space  # DartsSpace: canonical_genotype, to_nb301_features
        self.dataset = dataset
        self.source = source
        self.batch_size = int(batch_size)
        if source == "official" and model_dir is None:
            raise DataFileError(
                "the NB301 'official' backend needs model_dir: an ensemble directory of "
                "the NB301 model files (nb_models_1.0/xgb_v1.0 or nb_models_0.9/xgb_v0.9)"
            )
        if source == "yahpo" and not 1 <= epoch <= FINAL_EPOCH:
            raise ValueError(f"epoch must be in 1..{FINAL_EPOCH}, got {epoch}")
        # The model runs in its own process: an oracle gets a counted account of it, never
        # the model (docs/guarantees.md).
        self._model = ModelProcess(
            "archperf.benchmarks.nb301:build_surrogate",
            {
                "source": source,
                "path": None if path is None else os.fspath(path),
                "data_dir": None if data_dir is None else os.fspath(data_dir),
                "epoch": float(epoch),
                "threads": threads,
                "model_dir": None if model_dir is None else os.fspath(model_dir),
                "batch_size": self.batch_size,
            },
            attributes=("label", "path"),
        )
        self.epoch: float | None = float(epoch) if source == "yahpo" else None
        self.label: str = self._model.attributes["label"]
        self.path = Path(self._model.attributes["path"])
        self._data_files = (self.path,)
        self._accounts: dict[int, Account] = {}
        self._cache: dict[str, float] = {}

    # ---------------------------------------------------------------------------- values
    @property
    def cache_size(self) -> int:
        """Canonical genotypes evaluated so far (each once)."""
        return len(self._cache)

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        """Surrogate validation accuracy (%) per genotype, uncounted (cached per canonical)."""
        if isinstance(archs, str | bytes):
            raise TypeError("predict takes a sequence of genotypes")
        archs = list(archs)
        keys = [self.space.canonical(a) for a in archs]  # validates every genotype first
        todo: dict[str, Any] = {}
        for k, a in zip(keys, archs, strict=True):
            if k not in self._cache and k not in todo:
                todo[k] = self._darts.canonical_genotype(a)
        if todo:
            vals = self._model.evaluate(list(todo.values()))
            self._cache.update(zip(todo, (float(v) for v in vals), strict=True))
        return np.array([self._cache[k] for k in keys], dtype=np.float64)

    def query(self, archs: Sequence[Any]) -> np.ndarray:
        """Uncounted search-metric look-up; searches use an :meth:`oracle`."""
        return self.predict(archs)

    def lookup(self, archs: Sequence[Any], metric: str = "val") -> np.ndarray:
        """Uncounted look-up (every valid genotype is known; ``metric`` 'val' or 'test')."""
        if metric not in ("val", "test"):
            raise ValueError(f"unknown metric {metric!r}; NB301 has 'val' (and 'test' = 'val')")
        return self.predict(archs)

    def report(self, archs: Sequence[Any]) -> np.ndarray:
        """The reported value: the same surrogate *validation* prediction (NB301 has no test
        metric), for the experiment runner after a search; see :meth:`describe`."""
        return self.predict(archs)

    def report_result(self, archs: Sequence[Any]) -> Report:
        """:meth:`report` with :meth:`describe` attached."""
        return Report(self.report(archs), self.describe())

    # --------------------------------------------------------------------------- oracle
    def oracle(self, budget: int | None = None, protocol: str | None = None) -> Oracle[Any]:
        """A fresh query session (own counter, budget, history); record key = canonical form."""
        info = self.describe(protocol)
        info.pop("report_metric")
        info.pop("report_note")
        records: GrowingRecordIndex[Any] = GrowingRecordIndex(
            self.space.canonical, key_name="canonical genotype"
        )
        account = self._model.open_account(budget)
        metric = _SurrogateMetric(account, self._darts, records)
        oracle: Oracle[Any] = Oracle(self.space, records, metric, info, budget)
        self._accounts[id(oracle)] = account
        weakref.finalize(oracle, self._accounts.pop, id(oracle), None)
        return oracle

    def evaluations(self, oracle: Oracle[Any]) -> int | None:
        """Distinct genotypes the model process evaluated for ``oracle`` (its own count,
        which a search cannot reach); the runner checks it against the query log."""
        account = self._accounts.get(id(oracle))
        return None if account is None else self._model.served(account)

    def close(self) -> None:
        """Stop the model process (also done when the benchmark is collected)."""
        self._model.close()

    def describe(self, protocol: str | None = None) -> dict[str, Any]:
        """Benchmark facts: label, source file, metric names and what they mean."""
        protocol = check_protocol(self.protocol if protocol is None else protocol)
        metric = f"val_acc (predicted by {self.label}, %)"
        return {
            "benchmark": self.name,
            "label": self.label,
            "dataset": self.dataset,
            "protocol": protocol,
            "source": f"{self.label}: {self.path}",
            "search_metric": metric,
            "report_metric": metric,
            "report_note": (
                "NB301 predicts validation accuracy only; there is no test metric, so the "
                "reported value is the same surrogate validation prediction (both protocols)"
            ),
            "epoch": self.epoch,
            "units": "accuracy in percent",
            "record_key": "canonical genotype (DartsSpace.canonical)",
        }
