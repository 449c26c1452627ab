"""A performance model run in a child process, with the accounting on the child's side.

A surrogate benchmark (NB301) must run its model to answer a query, so an oracle living in the
search's process would have to hold the model, and a search could walk the oracle's attributes
to it and evaluate cells without paying.  :class:`ModelProcess` keeps the model in a child
process instead.  The benchmark holds the *admin* side (uncounted evaluations for reporting,
opening accounts, auditing them); an oracle holds only an :class:`Account`: a connection and an
account token.  Everything sent with an account token is counted by the child, per distinct
record key, and refused beyond the account's budget; the experiment runner compares the child's
count with the oracle's query log after the search (:meth:`ModelProcess.served`).  The admin
token never enters an oracle's object graph.

Protocol (pickled tuples over a socket pair; both ends are archperf's own code):
``(token, op, payload)`` → ``("ok", result)`` or ``("error", kind, message)``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import secrets
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BudgetExhaustedError, DataFileError

__all__ = ["Account", "ModelProcess", "ModelProcessError"]

#: Seconds the child gets to start and load its model.
START_TIMEOUT_S = 120.0


class ModelProcessError(DataFileError):
    """The model's process failed to start, died, or refused a request."""


def _child_env() -> dict[str, str]:
    """The parent's environment, with the folder of this archperf package first on the path
    (the child must import the same archperf, however the parent found it)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


class ModelProcess:
    """Start ``factory(**kwargs)`` (``"package.module:function"``, returning an object with
    ``evaluate(reps) -> ndarray`` and the attributes named in ``attributes``) in a child
    process.  Raises :class:`~archperf.errors.DataFileError` (the child's own message) when the
    model cannot be built there.
    """

    def __init__(
        self, factory: str, kwargs: dict[str, Any], attributes: Sequence[str] = ()
    ) -> None:
        self._admin = secrets.token_hex(16)
        self._lock = threading.Lock()
        mine, theirs = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "archperf.benchmarks.model_process", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=_child_env(),
            )
        finally:
            theirs.close()
        self._conn = Connection(mine.detach())
        self._finalizer = weakref.finalize(self, _shutdown, self._conn, self._proc)
        ready = self._request_raw(
            (self._admin, "init", (factory, dict(kwargs), tuple(attributes))),
            timeout=START_TIMEOUT_S,
        )
        self.attributes: dict[str, Any] = dict(ready)

    # ------------------------------------------------------------------------ transport
    def _request_raw(self, message: tuple[Any, ...], timeout: float | None = None) -> Any:
        return _request(self._conn, self._lock, self._proc, message, timeout)

    def _admin_request(self, op: str, payload: Any) -> Any:
        return self._request_raw((self._admin, op, payload))

    # --------------------------------------------------------------------------- admin
    def evaluate(self, reps: list[Any]) -> np.ndarray:
        """Uncounted evaluation (the benchmark's own ``predict``, for reporting)."""
        return np.asarray(self._admin_request("evaluate", reps), dtype=np.float64)

    def open_account(self, budget: int | None) -> Account:
        """A new account: evaluations through it are counted per distinct key and refused
        beyond ``budget`` distinct keys."""
        token = self._admin_request("open", budget)
        return Account(self._conn, self._lock, self._proc, token)

    def served(self, account: Account) -> int:
        """How many distinct keys the child evaluated for ``account`` (read by the runner)."""
        return int(self._admin_request("served", account.token))

    def close(self) -> None:
        """Stop the child (also done when this object is collected, and at exit)."""
        self._finalizer()


class Account:
    """An oracle's handle on a :class:`ModelProcess`: counted evaluations only."""

    __slots__ = ("_conn", "_lock", "_proc", "token")

    def __init__(
        self, conn: Connection, lock: threading.Lock, proc: subprocess.Popen[bytes], token: str
    ) -> None:
        self._conn = conn
        self._lock = lock
        self._proc = proc
        self.token = token

    def evaluate(self, keys: list[str], reps: list[Any]) -> np.ndarray:
        """Evaluate ``reps`` (distinct record ``keys``), charged to this account."""
        out = _request(self._conn, self._lock, self._proc, (self.token, "charged", (keys, reps)))
        return np.asarray(out, dtype=np.float64)


def _request(
    conn: Connection,
    lock: threading.Lock,
    proc: subprocess.Popen[bytes],
    message: tuple[Any, ...],
    timeout: float | None = None,
) -> Any:
    with lock:
        try:
            conn.send(message)
            if timeout is not None and not conn.poll(timeout):
                raise ModelProcessError(f"the model process did not answer in {timeout:.0f} s")
            reply = conn.recv()
        except (EOFError, OSError) as exc:
            code = proc.poll()
            raise ModelProcessError(
                f"the model process ended (exit code {code}); its stderr says why"
            ) from exc
    if reply[0] == "ok":
        return reply[1]
    _, kind, text = reply
    if kind == "budget":
        raise BudgetExhaustedError(text)
    if kind == "data":
        raise DataFileError(text)
    if kind == "value":
        raise ValueError(text)
    if kind == "import":
        raise ImportError(text)
    raise ModelProcessError(text)


def _shutdown(conn: Connection, proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        conn.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------- the child
def _build(factory: str, kwargs: dict[str, Any]) -> Any:
    module, _, attr = factory.partition(":")
    return getattr(importlib.import_module(module), attr)(**kwargs)


def _serve(conn: Connection) -> None:
    """The child's loop: one request, one reply, until the parent closes the connection."""
    admin: str | None = None
    model: Any = None
    accounts: dict[str, tuple[int | None, set[str]]] = {}
    while True:
        try:
            token, op, payload = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if op == "init" and admin is None:
                admin = token
                factory, kwargs, attributes = payload
                model = _build(factory, kwargs)
                result: Any = {a: getattr(model, a) for a in attributes}
            elif token == admin and op == "evaluate":
                result = np.asarray(model.evaluate(payload), dtype=np.float64)
            elif token == admin and op == "open":
                new = secrets.token_hex(16)
                accounts[new] = (payload, set())
                result = new
            elif token == admin and op == "served":
                result = len(accounts[payload][1]) if payload in accounts else 0
            elif op == "charged" and token in accounts:
                budget, seen = accounts[token]
                keys, reps = payload
                fresh = {k for k in keys if k not in seen}
                if budget is not None and len(seen) + len(fresh) > budget:
                    raise BudgetExhaustedError(
                        f"the model process refuses {len(fresh)} more evaluation(s): the "
                        f"account has evaluated {len(seen)} of its budget of {budget}"
                    )
                result = np.asarray(model.evaluate(reps), dtype=np.float64)
                seen.update(fresh)
            else:
                raise PermissionError(f"request {op!r} refused (unknown or unauthorised token)")
            reply: tuple[Any, ...] = ("ok", result)
        except BudgetExhaustedError as exc:
            reply = ("error", "budget", str(exc))
        except DataFileError as exc:
            reply = ("error", "data", str(exc))
        except ImportError as exc:
            reply = ("error", "import", str(exc))
        except ValueError as exc:
            reply = ("error", "value", str(exc))
        except Exception as exc:  # anything else: say what, the parent raises it as one line
            reply = ("error", "other", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


if __name__ == "__main__":  # the child: python -m archperf.benchmarks.model_process FD
    _serve(Connection(int(sys.argv[1])))
