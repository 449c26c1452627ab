"""One search run described as data: :class:`RunSpec` (JSON round trip, stable run ids)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["PROTOCOLS", "RunSpec", "canonical_json", "parse_seeds", "parse_sets"]

PROTOCOLS: tuple[str, ...] = ("honest", "paper")
"""Same values as :data:`archperf.benchmarks.base.PROTOCOLS` (kept here to stay import-light)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def canonical_json(obj: Any) -> str:
    """Sorted-key, compact JSON; raises ``ValueError`` for non-JSON values and NaN/inf."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not JSON-ready (plain numbers, strings, lists, dicts): {exc}") from exc


def _json_copy(obj: Any, what: str) -> Any:
    try:
        return json.loads(canonical_json(obj))
    except ValueError as exc:
        raise ValueError(f"{what} must be JSON-ready: {exc}") from None


@dataclass(frozen=True, eq=True)
class RunSpec:
    """One search run: method (registry name and kwargs), benchmark, protocol, budget, seed.

    ``benchmark_kwargs`` go to the benchmark factory next to ``dataset`` (e.g. ``source``,
    ``data_dir``; without ``data_dir`` the runner resolves it with
    :func:`archperf.paths.find_data_dir` and records the path it used).  ``label`` is the
    display name in tables (default: ``method``).  ``data`` names the data the run used,
    ``{"source": ..., "sha256": ...}`` (:func:`archperf.datahash.data_identity`); the runner
    fills it in (:func:`~archperf.experiments.runner.resolve_spec`), so every run key depends on
    the data's content, and it is left out of :meth:`to_dict` while None.  ``constraints``:
    bounds on cell properties the oracle enforces (:mod:`archperf.constraints`, e.g.
    ``["params_mb<=0.5"]``); left out of :meth:`to_dict` while empty.  Dict fields are
    normalised through JSON, so ``RunSpec.from_dict(spec.to_dict()) == spec`` always holds.  Not
    hashable (dict fields); use :meth:`key`.
    """

    method: str
    benchmark: str
    dataset: str
    budget: int
    seed: int
    protocol: str = "honest"
    method_kwargs: dict[str, Any] = field(default_factory=dict)
    benchmark_kwargs: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    data: dict[str, Any] | None = None
    constraints: list[str] = field(default_factory=list)

    __hash__ = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        for name in ("method", "benchmark", "dataset"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"RunSpec.{name} must be a non-empty string, got {value!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                f"RunSpec.protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}"
            )
        for name, low in (("budget", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"RunSpec.{name} must be an integer >= {low}, got {value!r}")
        for name in ("method_kwargs", "benchmark_kwargs"):
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise ValueError(f"RunSpec.{name} must be a dict, got {type(value).__name__}")
            object.__setattr__(self, name, _json_copy(value, f"RunSpec.{name}"))
        if "dataset" in self.benchmark_kwargs:
            raise ValueError("give the dataset as RunSpec.dataset, not in benchmark_kwargs")
        label = self.method if self.label is None else self.label
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"RunSpec.label must be a non-empty string, got {label!r}")
        object.__setattr__(self, "label", label)
        if self.data is not None:
            object.__setattr__(self, "data", _check_data(self.data))
        object.__setattr__(self, "constraints", _check_constraints(self.constraints))

    # ------------------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (``data`` only when set, so the keys of specs
        made before ``data`` existed are unchanged)."""
        return {
            f.name: _json_copy(getattr(self, f.name), f.name)
            for f in fields(self)
            if not (f.name == "data" and self.data is None)
            and not (f.name == "constraints" and not self.constraints)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_dict`; unknown or missing fields are errors."""
        if not isinstance(data, dict):
            raise ValueError(f"a run spec must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown run spec field(s): {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:  # a missing required field
            raise ValueError(f"incomplete run spec {data!r}: {exc}") from None

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------------------- run id
    def digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON of every field."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    def key(self) -> str:
        """A stable, filesystem-safe run id, e.g. ``nb201-cifar10-honest-re-b100-s0-3f2a9c01d4``.

        The readable part names benchmark, dataset, protocol, label, budget and seed; the
        10-hex-digit suffix hashes *all* fields (method, its kwargs, benchmark kwargs, label and
        the data's source and content hash), so two configurations of one method, or one
        configuration on two versions of the data, never share a key.
        """
        parts = [
            self.benchmark,
            self.dataset,
            self.protocol,
            str(self.label),
            f"b{self.budget}",
            f"s{self.seed}",
            self.digest()[:10],
        ]
        return "-".join(_UNSAFE.sub("_", p).strip("_") or "_" for p in parts)


def _check_constraints(constraints: Any) -> list[str]:
    """The constraints as canonical texts (``archperf.constraints``); bad input is a
    :class:`~archperf.errors.UsageError`."""
    from ..constraints import parse_constraints

    return [str(c) for c in parse_constraints(constraints)]


def _check_data(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or set(data) != {"source", "sha256"}:
        raise ValueError(
            f"RunSpec.data must be {{'source': str, 'sha256': hex or None}}, got {data!r}"
        )
    source, sha = data["source"], data["sha256"]
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"RunSpec.data['source'] must be a non-empty string, got {source!r}")
    if sha is not None and not (
        isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)
    ):
        raise ValueError(f"RunSpec.data['sha256'] must be 64 hex digits or None, got {sha!r}")
    return {"source": source, "sha256": sha}


def parse_seeds(text: str | int) -> list[int]:
    """Seeds from ``"0-19"``, ``"0,3,7"``, ``"0-4,10"`` or a count ``N`` given as int (0..N-1).

    Duplicates are an error (a seed would be run twice).
    """
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 1:
            raise ValueError(f"the number of seeds must be >= 1, got {text}")
        return list(range(text))
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None:
            raise ValueError(f"bad seed list {text!r}: use e.g. 0-19, 0,3,7 or 0-4,10")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise ValueError(f"bad seed range {part!r}: the end is below the start")
        out.extend(range(lo, hi + 1))
    dup = sorted({s for s in out if out.count(s) > 1})
    if dup:
        raise ValueError(f"seed(s) {dup} given twice in {text!r}")
    return out


def _parse_value(text: str) -> Any:
    """JSON if it parses (numbers, true/false/null, lists, objects, quoted strings), else the
    plain string.  Never evaluated as code."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items: Sequence[str] | None, methods: Sequence[str] | None = None) -> dict[str, Any]:
    """``--set`` options as keyword arguments per method.

    Each item is ``key=value`` or ``METHOD:key=value`` (the latter only for ``METHOD`` in
    ``methods``); dotted keys nest (``trainer.epochs=30`` → ``{"trainer": {"epochs": 30}}``);
    values are parsed with ``json.loads``, falling back to the plain string.  Returns
    ``{method: kwargs}`` for every method in ``methods`` (or ``{"": kwargs}`` when ``methods``
    is None).  A key given twice, or both as a value and as a parent of nested keys, is an error.
    """
    names = list(methods) if methods is not None else [""]
    out: dict[str, dict[str, Any]] = {m: {} for m in names}
    for item in items or ():
        target, sep, rest = item.partition("=")
        if not sep or not target.strip():
            raise ValueError(f"--set {item!r}: expected key=value")
        prefix, colon, key = target.strip().rpartition(":")
        if colon and methods is None:
            raise ValueError(
                f"--set {item!r}: METHOD:key=value needs several methods (use key=value)"
            )
        if colon and prefix not in names:
            raise ValueError(f"--set {item!r}: {prefix!r} is not one of the methods {names}")
        path = key.split(".")
        if any(not p for p in path):
            raise ValueError(f"--set {item!r}: empty part in key {key!r}")
        value = _parse_value(rest)
        for m in [prefix] if colon else names:
            node = out[m]
            for depth, part in enumerate(path[:-1]):
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    where = ".".join(path[: depth + 1])
                    raise ValueError(f"--set {item!r}: {where} was already set to a value")
                node = child
            if path[-1] in node:
                raise ValueError(f"--set {item!r}: {key} is set twice")
            node[path[-1]] = value
    return out
