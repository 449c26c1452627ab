"""Small file helpers shared by every floor (no heavy imports)."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "atomic_write_bytes",
    "json_depth_ok",
    "load_json_limited",
    "read_cells",
    "read_lines",
]

#: Largest JSON file (bytes) that archperf parses from a saved component or checkpoint.
MAX_JSON_BYTES = 64 * 1024 * 1024
#: Deepest nesting of arrays/objects accepted in such a file (archperf writes at most ~10).
MAX_JSON_DEPTH = 64
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
        _fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def json_depth_ok(obj: Any, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``obj`` (parsed JSON) nests arrays/objects at most ``max_depth`` deep.

    Iterative, so it never hits Python's recursion limit itself.
    """
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return False
        stack.extend((c, depth + 1) for c in children)
    return True


def load_json_limited(
    data: bytes,
    what: str,
    error: type[Exception],
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    allow_nan: bool = False,
) -> Any:
    """Parse untrusted JSON ``data`` (the contents of ``what``, a file name for messages).

    Too large, too deep, not UTF-8 or not JSON, and non-finite numbers (``NaN``,
    ``Infinity``) all raise ``error`` with a one-line message naming ``what``, never a
    ``RecursionError`` or ``MemoryError``.  ``allow_nan`` accepts the non-finite numbers
    (e.g. a held-out rank correlation that was undefined).
    """
    if len(data) > max_bytes:
        raise error(f"{what} is {len(data):,} bytes, over the limit of {max_bytes:,} bytes")
    # a cheap bound first: JSON cannot nest deeper than its count of opening brackets
    if data.count(b"[") + data.count(b"{") > max_depth:
        cur = 0
        for m in _BRACKETS.finditer(_STRINGS.sub(b"", data)):
            cur += 1 if m.group() in (b"[", b"{") else -1
            if cur > max_depth:
                raise error(f"{what} nests arrays/objects deeper than {max_depth} levels")

    def bad_constant(name: str) -> Any:
        raise ValueError(f"the number {name} is not allowed")

    try:
        doc = json.loads(data.decode("utf-8"), parse_constant=None if allow_nan else bad_constant)
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8 text: {exc}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None
    if not json_depth_ok(doc, max_depth):  # pragma: no cover - the scan above catches it
        raise error(f"{what} nests arrays/objects deeper than {max_depth} levels")
    return doc


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
