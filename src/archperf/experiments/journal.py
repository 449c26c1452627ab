"""A query journal: resume an interrupted search without asking the benchmark again.

While a search runs, every new answer the oracle gives (record key → search metric) is appended
to a JSON-lines file, one line per record, after a header line naming the run (its key, which
covers the spec and the data's content hash).  Lines are flushed after each query batch, so an
interrupted process (Ctrl-C, a kill) loses nothing; ``fsync`` runs at most once a second and at
the end, so a power cut can lose the last second.  Rerunning the same spec with the same journal
replays: searches are deterministic for a seed, so the search asks for the same cells in the
same order, and the oracle answers those in the journal from it (charged as usual, so budgets
stay exact) and only the rest from the benchmark.  A journal of another run (another spec, or
the same spec on other data) is refused with :class:`~archperf.errors.DataMismatchError`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..benchmarks.base import MetricSource, RecordIndex
from ..errors import DataMismatchError

__all__ = ["JOURNAL_FORMAT", "JournalMetric", "QueryJournal"]

JOURNAL_FORMAT = "archperf.journal/1"


class QueryJournal:
    """An append-only JSON-lines journal of one run's answered queries.

    ``QueryJournal(path, key, spec)`` opens ``path`` (created with a header if missing); an
    existing file must name the same run ``key``.  :attr:`answers` holds what it already has.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: str,
        spec: Mapping[str, Any] | None = None,
        fsync_interval: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.key = key
        self.fsync_interval = float(fsync_interval)
        self.answers: dict[str, float] = {}
        self.replayed_keys: set[str] = set()
        self.written = 0
        self._last_sync = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size > 0:
            good = self._read()
            self._fh: IO[str] = open(self.path, "r+", encoding="utf-8")  # noqa: SIM115
            self._fh.truncate(good)  # drop a line cut short by an interruption
            self._fh.seek(good)
        else:
            self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
            header = {"format": JOURNAL_FORMAT, "key": key, "spec": dict(spec or {})}
            self._fh.write(json.dumps(header, sort_keys=True) + "\n")
            self._sync(force=True)
        self.resumed_from = len(self.answers)

    def _read(self) -> int:
        """Load the answers; return the byte length of the complete lines."""
        raw = self.path.read_bytes()
        end = raw.rfind(b"\n") + 1
        lines = raw[:end].decode("utf-8").splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
        except json.JSONDecodeError:
            header = {}
        if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
            raise DataMismatchError(f"{self.path} is not an archperf query journal")
        if header.get("key") != self.key:
            raise DataMismatchError(
                f"query journal {self.path} belongs to run {header.get('key')}, not {self.key} "
                "(another spec, or the same spec on other data): remove it to start afresh"
            )
        for n, line in enumerate(lines[1:], start=2):
            try:
                entry = json.loads(line)
                self.answers[str(entry["k"])] = float(entry["v"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                raise DataMismatchError(f"{self.path} line {n} is not a journal entry") from None
        return end

    @property
    def replayed(self) -> int:
        """Distinct records answered from the journal in this session."""
        return len(self.replayed_keys)

    def lookup(self, key: str) -> float | None:
        """The journalled answer for record ``key``, or None."""
        return self.answers.get(key)

    def append(self, entries: Sequence[tuple[str, float]]) -> None:
        """Add new answers (flushed now, fsync'd at most every ``fsync_interval`` seconds)."""
        new = [(k, v) for k, v in entries if k not in self.answers]
        if not new:
            return
        for k, v in new:
            self.answers[k] = v
        self._fh.write("".join(json.dumps({"k": k, "v": v}) + "\n" for k, v in new))
        self.written += len(new)
        self._sync()

    def _sync(self, force: bool = False) -> None:
        self._fh.flush()
        now = time.monotonic()
        if force or now - self._last_sync >= self.fsync_interval:
            os.fsync(self._fh.fileno())
            self._last_sync = now

    def close(self) -> None:
        """Flush and fsync; the file stays (delete it when the run's record is safe)."""
        if not self._fh.closed:
            self._sync(force=True)
            self._fh.close()

    def __enter__(self) -> QueryJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wrap(self, metric: MetricSource, records: RecordIndex[Any]) -> JournalMetric:
        """The metric source an oracle should use: the journal first, then ``metric``."""
        return JournalMetric(metric, records, self)


class JournalMetric(MetricSource):
    """A metric source that answers from a :class:`QueryJournal` where it can and journals the
    answers of ``inner`` for the rest (installed by :meth:`Oracle.use_journal
    <archperf.benchmarks.base.Oracle.use_journal>`)."""

    def __init__(
        self, inner: MetricSource, records: RecordIndex[Any], journal: QueryJournal
    ) -> None:
        self._inner = inner
        self._records = records
        self._journal = journal

    def known(self, indices: np.ndarray) -> np.ndarray:
        return self._inner.known(indices)

    def values(self, indices: np.ndarray, archs: Sequence[Any] | None) -> np.ndarray:
        keys = [str(self._records.key_at(int(i))) for i in indices]
        out = np.empty(len(keys), dtype=np.float64)
        missing: list[int] = []
        for j, k in enumerate(keys):
            v = self._journal.lookup(k)
            if v is None:
                missing.append(j)
            else:
                out[j] = v
                self._journal.replayed_keys.add(k)
        if missing:
            sub = np.asarray(indices)[missing]
            sub_archs = None if archs is None else [archs[j] for j in missing]
            got = np.asarray(self._inner.values(sub, sub_archs), dtype=np.float64)
            out[missing] = got
            self._journal.append([(keys[j], float(v)) for j, v in zip(missing, got, strict=True)])
        return out
