"""Where benchmark data and caches live (never inside the installed package)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "DATA_ENV", "cache_dir", "data_dir", "find_data_dir"]

DATA_ENV = "ARCHPERF_DATA_DIR"
CACHE_ENV = "ARCHPERF_CACHE_DIR"


def find_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The benchmark data directory, or None if none is found.

    Order: ``explicit``; ``$ARCHPERF_DATA_DIR``; ``../shared/data`` next to the current
    directory or next to the source checkout that holds this package.
    """
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
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


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Like :func:`find_data_dir` but raises a clear error when nothing is found."""
    found = find_data_dir(explicit)
    if found is None:
        raise FileNotFoundError(
            "no benchmark data directory: pass --data-dir DIR or set "
            f"${DATA_ENV} to the folder holding nb101/, nb201/ and nb301/"
        )
    if not found.is_dir():
        raise FileNotFoundError(f"benchmark data directory {found} does not exist")
    return found


def cache_dir() -> Path:
    """``$ARCHPERF_CACHE_DIR`` or ``~/.cache/archperf`` (created on demand)."""
    env = os.environ.get(CACHE_ENV)
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "archperf"
    base.mkdir(parents=True, exist_ok=True)
    return base
