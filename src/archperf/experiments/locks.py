"""Per-run lock files, so that several sweeps into one folder share the work.

``DIR/<run key>.lock`` is created with ``O_CREAT | O_EXCL`` (atomic on local file systems) and
holds ``<pid> <host>``.  A lock is stale when its host is this host and its process is dead (a
sweep killed with SIGKILL, a machine that rebooted); a stale lock is broken and taken over.  A
lock of another host is never judged stale (its process cannot be checked from here): remove
it by hand if that machine is gone.  A lock file that is empty or unreadable for longer than
:data:`UNREADABLE_STALE_S` seconds (its writer died between creating and writing it) is stale.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["RunLock", "lock_owner_alive", "sigint_deferred"]

#: An empty or garbled lock file older than this is stale.
UNREADABLE_STALE_S = 10.0


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold back SIGINT (in the main thread) for a few statements that must not be cut in two,
    such as creating a lock file and noting that it is held; a Ctrl-C meanwhile is delivered
    right after."""
    can = (
        hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    )
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if can else None
    try:
        yield
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _host() -> str:
    return socket.gethostname() or "?"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _read(path: Path) -> tuple[int, str] | None:
    """``(pid, host)`` of a lock file, ``None`` if it is empty or garbled."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1]


def lock_owner_alive(path: Path) -> bool:
    """Whether the lock file ``path`` is held by a live process (False if it is gone)."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    owner = _read(path)
    if owner is None:
        return age < UNREADABLE_STALE_S
    pid, host = owner
    if host != _host():
        return True  # cannot tell: assume it runs
    return _pid_alive(pid)


class RunLock:
    """The lock of one run: :meth:`acquire` (non-blocking) and :meth:`release`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.held = False

    def acquire(self) -> bool:
        """Take the lock; ``False`` if a live process holds it.  A stale lock is broken."""
        for _ in range(3):
            with sigint_deferred():  # a Ctrl-C must not leave a lock file nobody holds
                try:
                    fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    fd = -1
                else:
                    self.held = True
                    with os.fdopen(fd, "w", encoding="utf-8") as fh:
                        fh.write(f"{os.getpid()} {_host()}\n")
                    return True
            if lock_owner_alive(self.path):
                return False
            self._break_stale()
        return False

    def _break_stale(self) -> None:
        """Move a stale lock aside (rename is atomic: of two processes that both found it
        stale, one moves it); if what was moved turns out to be live, put it back."""
        aside = self.path.with_name(f"{self.path.name}.stale.{os.getpid()}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        if lock_owner_alive(aside) and _read(aside) is not None:  # raced with a fresh lock
            with contextlib.suppress(OSError):
                os.link(aside, self.path)  # fails if yet another lock is there: it wins
        with contextlib.suppress(OSError):
            aside.unlink()

    def release(self) -> None:
        with sigint_deferred():
            if self.held:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                self.held = False
