"""Small file helpers shared by every floor (no heavy imports)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "read_cells", "read_lines"]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_lines(path: str) -> Iterator[str]:
    """Lines of a UTF-8 text file, or of standard input when ``path`` is ``-``, read lazily.

    A line that is not UTF-8 raises :class:`~archperf.errors.UsageError` naming the file, the
    line and the byte (Python's own error names neither file nor line).
    """
    from .errors import UsageError

    def decode(raw_lines: Any, name: str) -> Iterator[str]:
        for lineno, raw in enumerate(raw_lines, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UsageError(
                    f"{name} line {lineno}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                    f"column {exc.start + 1}); save the file as UTF-8"
                ) from None

    if path == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # a StringIO put in place by a test or an embedding program
            yield from sys.stdin
        else:
            yield from decode(buffer, "standard input")
    else:
        with open(path, "rb") as fh:
            yield from decode(fh, path)


def read_cells(space: Any, path: str, allow_empty: bool = True) -> list[Any]:
    """Cells in ``space``'s text form, one per line (blank lines skipped; ``-`` = stdin).

    A line that does not parse raises :class:`~archperf.errors.InvalidCellError` naming the file,
    the line and the broken rule; an empty file is a ``ValueError`` unless ``allow_empty``.
    """
    from .errors import InvalidCellError

    cells = []
    for lineno, line in enumerate(read_lines(path), start=1):
        text = line.strip()
        if not text:
            continue
        try:
            cells.append(space.from_text(text))
        except InvalidCellError as exc:
            raise InvalidCellError(exc.rule, f"{path} line {lineno}: {exc}") from exc
    if not cells and not allow_empty:
        raise ValueError(f"{path} holds no cells")
    return cells
