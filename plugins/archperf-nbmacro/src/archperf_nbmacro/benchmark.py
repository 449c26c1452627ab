"""NAS-Bench-Macro (CIFAR-10) as a tabular benchmark: all 6,561 networks, three trainings each.

The benchmark file (``nas-bench-macro_cifar10.json``, from the NAS-Bench-Macro authors) maps
each 8-character key to ``test_acc`` (CIFAR-10 test accuracy, %, of three independent
trainings), ``mean_acc``, ``std``, ``params`` and ``flops``.  There is no validation split, so the
honest protocol searches on **one training's** accuracy and reports **the mean of the other
two**: nothing a search sees enters what is reported.

============================ =============================================================
column                       meaning
============================ =============================================================
``test_acc_0..2``            test accuracy (%) of training 0, 1, 2
``mean_acc``                 mean of the three trainings (the file's ``mean_acc``)
``mean_acc_excl_<k>``        mean of the two trainings other than ``search_training = k``
``std``                      standard deviation of the three (the file's)
``params``, ``flops``        parameters and FLOPs of the network
============================ =============================================================

Protocols: ``"honest"`` (default) searches on ``test_acc_<k>`` and reports
``mean_acc_excl_<k>``; ``"paper"`` uses ``mean_acc`` for both (what NAS-Bench-Macro reports).

Data: ``source=PATH`` (the JSON file, or a folder holding it), else the data folder of
:func:`archperf.paths.find_data_dir` (``data_dir``, ``$ARCHPERF_DATA_DIR``, ``../shared/data``)
→ ``nbmacro/nas-bench-macro_cifar10.json``.  There is no embedded copy.  The record key is the
exact key: equivalent keys (see :mod:`archperf_nbmacro.space`) are separate records and cost
a query each.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from archperf.benchmarks.base import TableRecordIndex, TabularBenchmark
from archperf.cell import Cell
from archperf.errors import DataFileError
from archperf.paths import DATA_ENV, find_data_dir, no_data_reason

from .space import CHOICES, NUM_LAYERS, NBMacroSpace

__all__ = ["DATA_FILE", "NUM_TRAININGS", "NBMacroBenchmark", "NBMacroData", "load_nbmacro"]

DATA_FILE = "nbmacro/nas-bench-macro_cifar10.json"
"""Where the benchmark file lies inside a data folder."""

NUM_TRAININGS = 3
NUM_ARCHS = len(CHOICES) ** NUM_LAYERS
_HOW_TO_GET = (
    "Expected the NAS-Bench-Macro file nas-bench-macro_cifar10.json (from the NAS-Bench-Macro "
    "repository, Su et al. 2021): pass source=PATH (CLI --source), or data_dir=DIR (CLI "
    f"--data-dir, or ${DATA_ENV}) holding {DATA_FILE}."
)
_MEAN_TOLERANCE = 1e-3  # percent: the file's mean_acc against the mean of its test_acc


@dataclass(frozen=True)
class NBMacroData:
    """The loaded file: keys in key order and one array per column."""

    keys: tuple[str, ...]
    test_acc: np.ndarray  # [6561, 3]
    mean_acc: np.ndarray
    std: np.ndarray
    params: np.ndarray
    flops: np.ndarray
    path: str


def _fail(path: str, what: str) -> DataFileError:
    return DataFileError(f"{path}: {what}. {_HOW_TO_GET}")


def _number(path: str, key: str, field: str, value: Any, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"entry {key!r}: {field} must be a number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and 0.0 <= v <= hi):
        rng = "in [0, 100]" if math.isfinite(hi) else "finite and >= 0"
        raise _fail(path, f"entry {key!r}: {field} must be {rng}, got {value!r}")
    return v


@lru_cache(maxsize=2)
def _read_cached(path: str, mtime_ns: int, size: int) -> NBMacroData:
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"unreadable ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise _fail(path, f"not valid JSON, truncated or damaged ({exc})") from exc
    if not isinstance(raw, dict):
        raise _fail(path, f"expected a JSON object of keys, got {type(raw).__name__}")
    space = NBMacroSpace()
    expected = [space.to_text(c) for c in space.enumerate()]
    missing = [k for k in expected if k not in raw]
    extra = sorted(k for k in raw if k not in set(expected))
    if extra:
        raise _fail(path, f"{len(extra)} key(s) are not NAS-Bench-Macro keys, e.g. {extra[0]!r}")
    if missing:
        raise _fail(
            path,
            f"{len(raw):,} networks, expected all {NUM_ARCHS:,} (missing e.g. {missing[0]!r}; "
            "truncated?)",
        )
    test = np.empty((NUM_ARCHS, NUM_TRAININGS))
    mean, std, params, flops = (np.empty(NUM_ARCHS) for _ in range(4))
    for i, key in enumerate(expected):
        rec = raw[key]
        if not isinstance(rec, dict):
            raise _fail(path, f"entry {key!r} must be an object, got {type(rec).__name__}")
        absent = [f for f in ("test_acc", "mean_acc", "std", "params", "flops") if f not in rec]
        if absent:
            raise _fail(path, f"entry {key!r} lacks field(s) {', '.join(absent)}")
        accs = rec["test_acc"]
        if not isinstance(accs, list) or len(accs) != NUM_TRAININGS:
            raise _fail(
                path, f"entry {key!r}: test_acc must list {NUM_TRAININGS} accuracies, got {accs!r}"
            )
        for j, a in enumerate(accs):
            test[i, j] = _number(path, key, f"test_acc[{j}]", a, 100.0)
        mean[i] = _number(path, key, "mean_acc", rec["mean_acc"], 100.0)
        std[i] = _number(path, key, "std", rec["std"])
        params[i] = _number(path, key, "params", rec["params"])
        flops[i] = _number(path, key, "flops", rec["flops"])
        if abs(mean[i] - test[i].mean()) > _MEAN_TOLERANCE:
            raise _fail(
                path,
                f"entry {key!r}: mean_acc {mean[i]!r} is not the mean of test_acc "
                f"{accs!r} (damaged file?)",
            )
    for arr in (test, mean, std, params, flops):
        arr.setflags(write=False)
    return NBMacroData(tuple(expected), test, mean, std, params, flops, path)


def read_nbmacro(path: str | os.PathLike[str]) -> NBMacroData:
    """Read and check ``nas-bench-macro_cifar10.json`` (cached by path, mtime and size)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise DataFileError(
            f"cannot read NAS-Bench-Macro data {p}: {exc.strerror}. {_HOW_TO_GET}"
        ) from exc
    if p.is_dir():
        raise DataFileError(f"{p} is a folder, not the NAS-Bench-Macro file. {_HOW_TO_GET}")
    return _read_cached(str(p.resolve()), st.st_mtime_ns, st.st_size)


def load_nbmacro(
    source: str | os.PathLike[str] | None = None, data_dir: str | os.PathLike[str] | None = None
) -> NBMacroData:
    """Resolve the data by the rule of the module docstring and read it."""
    if source is not None:
        p = Path(source).expanduser()
        if p.is_dir():
            p = p / DATA_FILE if (p / DATA_FILE).is_file() else p / Path(DATA_FILE).name
        if not p.exists():
            raise DataFileError(f"NAS-Bench-Macro source {p} does not exist. {_HOW_TO_GET}")
        return read_nbmacro(p)
    root = find_data_dir(data_dir)
    if root is None:
        raise DataFileError(
            f"NAS-Bench-Macro needs its data file: {no_data_reason(data_dir)}. " + _HOW_TO_GET
        )
    f = root / DATA_FILE
    if not f.is_file():
        state = "does not exist" if not root.exists() else f"has no {DATA_FILE}"
        raise DataFileError(f"data directory {root} {state}. {_HOW_TO_GET}")
    return read_nbmacro(f)


class NBMacroBenchmark(TabularBenchmark[Cell]):
    """NAS-Bench-Macro on CIFAR-10; archs are :class:`~archperf_nbmacro.space.NBMacroSpace` cells.

    ``search_training`` (0, 1 or 2) picks the training whose accuracy the honest protocol
    searches on; the report metric is the mean of the other two.
    """

    name = "nbmacro"
    property_columns = ("params", "flops")

    def __init__(
        self,
        dataset: str = "cifar10",
        *,
        source: str | os.PathLike[str] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        protocol: str = "honest",
        search_training: int = 0,
    ) -> None:
        if str(dataset).strip().lower() != "cifar10":
            raise ValueError(f"NAS-Bench-Macro has the dataset cifar10 only, got {dataset!r}")
        if (
            isinstance(search_training, bool)
            or not isinstance(search_training, int)
            or not 0 <= search_training < NUM_TRAININGS
        ):
            raise ValueError(
                f"search_training must be 0, 1 or 2 (one of the {NUM_TRAININGS} trainings), "
                f"got {search_training!r}"
            )
        data = load_nbmacro(source, data_dir)
        k = search_training
        others = [j for j in range(NUM_TRAININGS) if j != k]
        val, test = f"test_acc_{k}", f"mean_acc_excl_{k}"
        columns: dict[str, np.ndarray] = {
            f"test_acc_{j}": data.test_acc[:, j] for j in range(NUM_TRAININGS)
        }
        columns[test] = data.test_acc[:, others].mean(axis=1)
        columns.update(mean_acc=data.mean_acc, std=data.std, params=data.params, flops=data.flops)
        space = NBMacroSpace()
        records: TableRecordIndex[Cell] = TableRecordIndex(
            data.keys, key_fn=space.to_text, arch_fn=space.from_text, key_name="key"
        )
        self.search_training = k
        self.report_trainings = tuple(others)
        self._data_files = (Path(data.path),)
        super().__init__(
            space=space,
            records=records,
            columns=columns,
            val_metric=val,
            test_metric=test,
            paper_metric="mean_acc",
            dataset="cifar10",
            source=f"json:{data.path}",
            protocol=protocol,
        )

    def describe(self, protocol: str | None = None) -> dict[str, Any]:
        d = super().describe(protocol)
        if d["protocol"] == "honest":
            a, b = self.report_trainings
            d["search_training"] = self.search_training
            d["report_metric_note"] = (
                f"searched on the CIFAR-10 test accuracy of training {self.search_training}; "
                f"reported: the mean of trainings {a} and {b} (NAS-Bench-Macro has no "
                "validation split)"
            )
        else:
            d["report_metric_note"] = "mean test accuracy of the 3 trainings, searched and reported"
        return d
