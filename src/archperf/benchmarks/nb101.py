"""NAS-Bench-101 oracle (CIFAR-10) over the official tfrecord files or the subset table.

Sources, in the order ``source=None`` looks for them under ``<data dir>/nb101/``:

- ``"only108"`` / ``"full"``: the official ``nasbench_only108.tfrecord`` or
  ``nasbench_full.tfrecord`` from the NB101 release, read without TensorFlow
  (:mod:`archperf.benchmarks.tfrecord`).  Per hash: the **mean over the three runs** of the
  final validation and test accuracy at each epoch budget (108 only, or 4/12/36/108), and the
  trainable parameters.  Search metric ``mean_val_acc_108``, report metric
  ``mean_test_acc_108`` (also the ``"paper"`` protocol's metric).  The parsed table is cached
  under :func:`archperf.paths.cache_dir`.
- ``"subset"``: ``nb101_subset.csv.gz``, 30,296 real cells (7.2% of the 423,624).  Search metric
  ``val_acc_108`` = the validation accuracy of **one** training run (not a 3-run mean; for the
  29 cells whose only source is NASLib's test asset it is that asset's 3-run mean, see the
  ``source`` column of the file).  Report metric ``mean_test_acc_108``, present for 30 cells
  only: :meth:`NB101Benchmark.report` refuses the others with a clear error.

Accuracies are **percent** everywhere in archperf (the NB101 files store fractions; they are
multiplied by 100 on load).  Records are keyed by the official NB101 hash; queries accept any
valid cell, pruned or not (the space prunes and hashes).  A valid cell the source does not hold
is unknown (:class:`~archperf.errors.UnknownCellError`; :meth:`lookup` gives NaN), never guessed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..cell import Cell
from ..errors import DataFileError
from ..paths import cache_dir, find_data_dir, no_data_reason
from .base import TableRecordIndex, TabularBenchmark

__all__ = [
    "NB101_NUM_CELLS",
    "NB101Benchmark",
    "NB101Table",
    "load_subset_table",
    "load_tfrecord_table",
]

NB101_NUM_CELLS = 423_624
OP_NAMES = ("input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output")
SUBSET_FILE = "nb101/nb101_subset.csv.gz"
TFRECORD_FILES = {
    "only108": "nb101/nasbench_only108.tfrecord",
    "full": "nb101/nasbench_full.tfrecord",
}
SOURCES = ("only108", "full", "subset")
_CACHE_VERSION = 1

_HOW_TO_GET = (
    "NAS-Bench-101 needs one of: the official nasbench_only108.tfrecord (or "
    "nasbench_full.tfrecord) from the NB101 release (github.com/google-research/nasbench), "
    "placed in <data dir>/nb101/ "
    "or passed as path=...; or archperf's subset table <data dir>/nb101/nb101_subset.csv.gz. "
    "Set $ARCHPERF_DATA_DIR or pass data_dir / --data-dir"
)
_UNITS = "accuracy in percent (the NB101 files store fractions; archperf multiplies by 100)"


@dataclass(frozen=True)
class NB101Table:
    """Parsed NB101 data: one row per hash (pruned cell), metric columns in percent."""

    hashes: tuple[str, ...]
    adjacency_bits: tuple[str, ...]
    ops: tuple[str, ...]
    columns: dict[str, np.ndarray]
    source: str
    path: str

    def __len__(self) -> int:
        return len(self.hashes)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_subset_table(path: str | os.PathLike[str]) -> NB101Table:
    """Read ``nb101_subset.csv.gz`` (columns as described in the data README)."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"NB101 subset table {p} not found. {_HOW_TO_GET}")
    try:
        df = pd.read_csv(p, dtype={"hash": str, "matrix": str, "ops": str})
    except Exception as exc:  # pandas/gzip/csv raise many types
        raise DataFileError(f"cannot read NB101 subset table {p}: {exc}. {_HOW_TO_GET}") from exc
    need = ["hash", "matrix", "ops", "params", "val_acc_108", "mean_val_acc_108"]
    need += ["mean_test_acc_108"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataFileError(
            f"{p} is not the NB101 subset table: missing columns {missing} "
            f"(found {list(df.columns)}). {_HOW_TO_GET}"
        )
    if df["hash"].duplicated().any():
        dup = df.loc[df["hash"].duplicated(), "hash"].iloc[0]
        raise DataFileError(f"{p}: hash {dup} appears more than once")
    bits: list[str] = []
    for i, m in enumerate(df["matrix"]):
        try:
            mat = np.array(json.loads(m), dtype=np.int64)
        except (json.JSONDecodeError, ValueError, TypeError) as exc:
            raise DataFileError(f"{p}: row {i} has a malformed matrix {m!r}") from exc
        if mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
            raise DataFileError(f"{p}: row {i} matrix is not square: {m!r}")
        bits.append("".join("1" if v else "0" for v in mat.reshape(-1).tolist()))
    columns: dict[str, np.ndarray] = {"params": df["params"].to_numpy(np.float64)}
    for col in df.columns:
        if col.startswith(("val_acc_", "mean_val_acc_", "mean_test_acc_")):
            vals = pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64)
            bad = ~np.isnan(vals) & ~((vals >= 0.0) & (vals <= 1.0))  # inf fails both
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataFileError(
                    f"{p}: column {col!r} row {i} must be an accuracy in [0, 1], got "
                    f"{df[col].iloc[i]!r} ({int(bad.sum())} such value(s))"
                )
            columns[col] = 100.0 * vals
    return NB101Table(tuple(df["hash"]), tuple(bits), tuple(df["ops"]), columns, "subset", str(p))


def _tfrecord_cache_file(p: Path) -> Path:
    """The ``.npz`` cache of ``p``, keyed on its content (SHA-256), not on its size and mtime:
    a file rewritten in place with the same size and mtime must not be served stale."""
    from ..datahash import file_sha256

    key = f"{file_sha256(p)}|v{_CACHE_VERSION}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir() / "nb101" / f"{p.stem}-{digest}.npz"


def _scan_tfrecord(p: Path) -> tuple[dict[str, tuple[str, str, int]], dict[tuple[str, int], list]]:
    """Per hash: (adjacency bits, ops, params); per (hash, epochs): [sum val, sum test, runs]."""
    from .tfrecord import scan_nb101_finals

    fixed: dict[str, tuple[str, str, int]] = {}
    runs: dict[tuple[str, int], list[Any]] = {}
    for k, (h, epochs, bits, ops, params, val, test) in enumerate(scan_nb101_finals(p)):
        prev = fixed.get(h)
        if prev is None:
            fixed[h] = (bits, ops, params)
        elif prev[0] != bits or prev[1] != ops:
            raise DataFileError(
                f"{p}: record {k}: hash {h} stored with two different cells; the file is "
                "corrupted or not an NB101 file"
            )
        acc = runs.get((h, epochs))
        if acc is None:
            runs[(h, epochs)] = [val, test, 1]
        else:
            acc[0] += val
            acc[1] += test
            acc[2] += 1
    return fixed, runs


#: Runs per cell and epoch budget in the official NB101 files (3 repeats, seeds differ); the
#: EC-NAS sample in the same layout also has 3.
RUNS_PER_CELL = 3


def _check_complete(
    p: Path, fixed: dict[str, Any], runs: dict[tuple[str, int], list[Any]], epochs: list[int]
) -> None:
    """Refuse a file where some cell lacks runs: every cell must have :data:`RUNS_PER_CELL`
    runs at every epoch budget of the file.  A file truncated exactly at a record boundary
    passes the framing checks, and its last cell's mean would silently be over 1 or 2 runs."""
    short = []
    for h in fixed:
        for e in epochs:
            acc = runs.get((h, e))
            n = 0 if acc is None else int(acc[2])
            if n != RUNS_PER_CELL:
                short.append((h, e, n))
    if short:
        h, e, n = short[0]
        raise DataFileError(
            f"{p}: cell {h} has {n} run(s) at {e} epochs; NB101 files have {RUNS_PER_CELL} runs "
            f"per cell and epoch budget ({len(short)} (cell, epochs) pair(s) incomplete). The "
            f"file is truncated or incomplete: download it again. {_HOW_TO_GET}"
        )


def load_tfrecord_table(path: str | os.PathLike[str], *, use_cache: bool = True) -> NB101Table:
    """Read an official NB101 tfrecord file into a per-hash table (3-run means, percent).

    The parsed table is cached (``.npz``, keyed by the file's SHA-256) under
    :func:`archperf.paths.cache_dir`; ``use_cache=False`` always re-reads the file.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"NB101 file {p} not found. {_HOW_TO_GET}")
    cache = _tfrecord_cache_file(p) if use_cache else None
    if cache is not None and cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                cached = {k[4:]: z[k] for k in z.files if k.startswith("col:")}
                return NB101Table(
                    tuple(z["hashes"].tolist()),
                    tuple(z["bits"].tolist()),
                    tuple(z["ops"].tolist()),
                    cached,
                    str(z["source"]),
                    str(p),
                )
        except (OSError, ValueError, KeyError):
            pass  # a broken cache is rebuilt below
    fixed, runs = _scan_tfrecord(p)
    if not fixed:
        raise DataFileError(f"{p} holds no NB101 records. {_HOW_TO_GET}")
    epochs = sorted({e for _, e in runs})
    if 108 not in epochs:
        raise DataFileError(
            f"{p} has no 108-epoch records (found epochs {epochs}); it is not "
            f"nasbench_only108.tfrecord or nasbench_full.tfrecord. {_HOW_TO_GET}"
        )
    _check_complete(p, fixed, runs, epochs)
    hashes = sorted(fixed)
    row = {h: i for i, h in enumerate(hashes)}
    cols: dict[str, np.ndarray] = {
        "params": np.array([fixed[h][2] for h in hashes], dtype=np.float64)
    }
    for e in epochs:
        val = np.full(len(hashes), np.nan)
        test = np.full(len(hashes), np.nan)
        n = np.zeros(len(hashes))
        for (h, ep), (sv, st, k) in runs.items():
            if ep == e:
                i = row[h]
                val[i], test[i], n[i] = 100.0 * sv / k, 100.0 * st / k, k
        cols[f"mean_val_acc_{e}"] = val
        cols[f"mean_test_acc_{e}"] = test
        cols[f"n_runs_{e}"] = n
    source = "full" if epochs != [108] else "only108"
    table = NB101Table(
        tuple(hashes),
        tuple(fixed[h][0] for h in hashes),
        tuple(fixed[h][1] for h in hashes),
        cols,
        source,
        str(p),
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        arrays: dict[str, Any] = {
            "hashes": np.array(table.hashes),
            "bits": np.array(table.adjacency_bits),
            "ops": np.array(table.ops),
            "source": np.array(source),
            **{f"col:{k}": v for k, v in cols.items()},
        }
        np.savez(tmp, **arrays)
        os.replace(tmp, cache)
    return table


def _looks_like_path(text: str) -> bool:
    """A ``source`` that names a file rather than a source name (``--source FILE``)."""
    return os.sep in text or "/" in text or "." in text or Path(text).exists()


def _resolve(
    source: str | None, path: str | os.PathLike[str] | None, data_dir: Any
) -> tuple[str, Path]:
    if source is not None and source not in SOURCES:
        if path is None and _looks_like_path(source):  # --source FILE, as the CLI help says
            source, path = None, source
        else:
            raise ValueError(
                f"unknown NB101 source {source!r}; sources are: {', '.join(SOURCES)}, "
                "or a .tfrecord / .csv[.gz] file"
            )
    if path is not None:
        p = Path(path)
        if source is None:
            source = "subset" if p.name.endswith((".csv", ".csv.gz")) else "tfrecord"
        return source, p
    root = find_data_dir(data_dir)
    if root is None:
        raise DataFileError(f"{no_data_reason(data_dir)}. {_HOW_TO_GET}")
    if source is not None:
        return source, root / (SUBSET_FILE if source == "subset" else TFRECORD_FILES[source])
    for name, rel in TFRECORD_FILES.items():
        if (root / rel).is_file():
            return name, root / rel
    if (root / SUBSET_FILE).is_file():
        return "subset", root / SUBSET_FILE
    raise DataFileError(f"no NB101 data under {root}. {_HOW_TO_GET}")


class _ArchOfHash:
    """Record key (hash) → :class:`Cell`, from the structure columns only (no metric data)."""

    __slots__ = ("_bits", "_op_ids", "_ops", "_row_of")

    def __init__(
        self,
        hashes: Sequence[str],
        bits: Sequence[str],
        ops: Sequence[str],
        op_names: Sequence[str],
    ) -> None:
        self._row_of = {h: i for i, h in enumerate(hashes)}
        self._bits = tuple(bits)
        self._ops = tuple(ops)
        self._op_ids = {name: i for i, name in enumerate(op_names)}

    def __call__(self, key: Any) -> Cell:
        i = self._row_of[key]
        ops = self._ops[i].split(",")
        n = len(ops)
        adj = np.frombuffer(self._bits[i].encode(), dtype=np.uint8).reshape(n, n) - ord("0")
        return Cell(adj, [self._op_ids[o] for o in ops])


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


class NB101Benchmark(TabularBenchmark[Cell]):
    """NAS-Bench-101 on CIFAR-10: records keyed by the official hash, accuracies in percent.

    ``source``: ``"only108"``, ``"full"``, ``"subset"`` or None (the first found, in that
    order); ``path`` overrides the file (``.tfrecord`` or ``.csv[.gz]``).
    """

    name = "nb101"
    property_columns = ("params",)

    def __init__(
        self,
        dataset: str = "cifar10",
        source: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        protocol: str = "honest",
        use_cache: bool = True,
        space: Any = None,
    ) -> None:
        if dataset != "cifar10":
            raise ValueError(f"NAS-Bench-101 has only dataset 'cifar10', got {dataset!r}")
        kind, p = _resolve(source, path, data_dir)
        if kind == "subset":
            table = load_subset_table(p)
        else:
            table = load_tfrecord_table(p, use_cache=use_cache)
        if space is None:
            from ..spaces.nb101 import NB101Space

            space = NB101Space()
        self.table_source = table.source
        self.path = Path(table.path)
        self._data_files = (self.path.resolve(),)
        self.coverage = len(table) / NB101_NUM_CELLS
        self._bits = table.adjacency_bits
        self._ops = table.ops
        # The record index goes to every oracle: arch_fn must reach only the cell structure
        # (bits, ops), never ``self`` (the benchmark and its test column).
        arch_fn = _ArchOfHash(table.hashes, table.adjacency_bits, table.ops, space.op_names)

        records: TableRecordIndex[Cell] = TableRecordIndex(
            table.hashes, space.canonical, arch_fn, key_name="official NB101 hash"
        )
        if table.source == "subset":
            val, test, paper = "val_acc_108", "mean_test_acc_108", None
            source_text = f"nb101_subset.csv.gz ({self.path})"
            hint = (
                "The NB101 subset table has a 3-run mean test accuracy for only "
                f"{int(np.isfinite(table.columns['mean_test_acc_108']).sum())} cells and no "
                "paper-protocol metric; for test accuracies of every cell use the official "
                "nasbench_only108.tfrecord from the NB101 release (source='only108')."
            )
        else:
            val, test, paper = "mean_val_acc_108", "mean_test_acc_108", "mean_test_acc_108"
            source_text = f"official NB101 tfrecord {self.path.name} ({self.path})"
            hint = ""
        self.num_test = int(np.isfinite(table.columns[test]).sum())
        super().__init__(
            space=space,
            records=records,
            columns=table.columns,
            val_metric=val,
            test_metric=test,
            paper_metric=paper,
            dataset=dataset,
            source=source_text,
            protocol=protocol,
            missing_test_hint=hint,
        )

    def describe(self, protocol: str | None = None) -> dict[str, Any]:
        """Benchmark facts, including coverage, units and what the metrics are."""
        d = super().describe(protocol)
        d["coverage"] = (
            f"{len(self):,} of {NB101_NUM_CELLS:,} cells = {100 * self.coverage:.1f}% of NB101"
        )
        d["units"] = _UNITS
        d["record_key"] = "official NB101 hash of the pruned cell"
        if self.table_source == "subset":
            d["search_metric_note"] = (
                "val_acc_108: validation accuracy at 108 epochs of ONE training run, not the "
                "3-run mean (the 29 cells known only from NASLib's test asset carry its 3-run "
                "mean); cells outside the subset are unknown, never guessed"
            )
            d["report_metric_note"] = (
                f"mean_test_acc_108 (3-run mean) is present for {self.num_test} cells only; "
                "report() refuses the others"
            )
        else:
            d["search_metric_note"] = "mean over the 3 runs of the final validation accuracy"
            d["report_metric_note"] = "mean over the 3 runs of the final test accuracy"
        return d

    def report(self, archs: Sequence[Cell]) -> np.ndarray:
        """Test accuracy (%) per cell; raises where the source has none (never guessed)."""
        archs = tuple(archs)
        if self.report_metric is not None and self.table_source == "subset":
            idx = self.index_of(archs)
            known = idx >= 0
            col = self.column(self.report_metric)
            missing = np.flatnonzero(known & ~np.isfinite(col[np.where(known, idx, 0)]))
            if len(missing):
                shown = ", ".join(self.space.canonical(archs[j]) for j in missing[:3])
                raise DataFileError(
                    f"no test accuracy for {len(missing)} of {len(archs)} cell(s) (graph hash "
                    f"{shown}{', ...' if len(missing) > 3 else ''}): {self._missing_test_hint}"
                )
        return super().report(archs)
