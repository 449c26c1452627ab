"""Checkpoints as safetensors + JSON under a manifest; nothing is ever unpickled.

Arbitrary nested state (module and optimizer state dicts, RNG states, counters) is split into a
flat ``{key: tensor}`` map stored with safetensors and a JSON skeleton that holds everything else
and marks where each tensor goes.

A checkpoint is one atomically committed unit.  :func:`save_state` writes the two files under
fresh names (``state-<random>.json`` / ``.safetensors``), then the manifest ``checkpoint.json``
(format version, each file's name, size and SHA-256, the caller's ``meta`` such as the epoch,
and a SHA-256 over the manifest itself), atomically and last, and only then deletes the files
of the previous checkpoint.  Whenever the process dies, the manifest names either the previous
complete checkpoint or the new one.  :func:`load_state` verifies the manifest's own checksum,
each file's size and hash, the JSON's size and depth and every tensor reference, so a flipped
bit, a truncated file or a half-written checkpoint is a :class:`~archperf.errors.CheckpointError`
naming the file, never a silently different resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._io import MAX_JSON_BYTES, atomic_write_bytes, load_json_limited
from ..errors import CheckpointError

__all__ = [
    "MANIFEST_FILE",
    "CheckpointError",
    "atomic_write_bytes",
    "has_checkpoint",
    "load_checkpoint",
    "load_state",
    "remove_checkpoint",
    "save_state",
]

FORMAT = "archperf-checkpoint"
FORMAT_VERSION = 2
MANIFEST_FILE = "checkpoint.json"
#: Largest manifest accepted (bytes); archperf writes well under 10 kB.
MAX_MANIFEST_BYTES = 1024 * 1024
_LEGACY = ("state.json", "state.safetensors")
_NAME = re.compile(r"state-[0-9a-f]{16}\.(json|safetensors)")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MANIFEST_KEYS = {"format", "format_version", "files", "meta", "checksum"}
_TENSOR = "__tensor__"
_TUPLE = "__tuple__"


def _flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = prefix or "root"
        tensors[key] = obj.detach().cpu().contiguous()
        return {_TENSOR: key}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            sk = str(k)
            name = sk if isinstance(k, str) else f"__int__{k}"
            out[name] = _flatten(v, f"{prefix}.{sk}", tensors)
        return out
    if isinstance(obj, tuple):
        return {_TUPLE: [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint a value of type {type(obj).__name__} at {prefix!r}")


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor], where: Path) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_TENSOR}:
            ref = obj[_TENSOR]
            if not isinstance(ref, str) or ref not in tensors:
                raise CheckpointError(f"{where} refers to a tensor {ref!r} that is not saved")
            return tensors[ref]
        if set(obj) == {_TUPLE}:
            if not isinstance(obj[_TUPLE], list):
                raise CheckpointError(f"{where}: a tuple must hold a list")
            return tuple(_unflatten(v, tensors, where) for v in obj[_TUPLE])
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            key: Any = k
            if k.startswith("__int__"):
                try:
                    key = int(k[len("__int__") :])
                except ValueError:
                    raise CheckpointError(f"{where}: bad integer key {k!r}") from None
            out[key] = _unflatten(v, tensors, where)
        return out
    if isinstance(obj, list):
        return [_unflatten(v, tensors, where) for v in obj]
    return obj


def _digest(doc: dict[str, Any]) -> str:
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def has_checkpoint(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` holds a checkpoint to resume (or an old/broken one to refuse)."""
    d = Path(directory)
    return (d / MANIFEST_FILE).exists() or any((d / n).exists() for n in _LEGACY)


def remove_checkpoint(directory: str | os.PathLike[str]) -> None:
    """Forget the checkpoint in ``directory`` (its manifest first, then its files)."""
    d = Path(directory)
    for name in (MANIFEST_FILE, *_LEGACY):
        (d / name).unlink(missing_ok=True)
    _clean(d, keep=set())


def _clean(d: Path, keep: set[str]) -> None:
    if not d.is_dir():
        return
    for p in d.iterdir():
        stale = _NAME.fullmatch(p.name) and p.name not in keep
        leftover = p.name.startswith((".state-", f".{MANIFEST_FILE}.")) and p.name.endswith(".tmp")
        if stale or leftover:
            p.unlink(missing_ok=True)


def save_state(
    state: dict[str, Any],
    directory: str | os.PathLike[str],
    meta: dict[str, Any] | None = None,
) -> Path:
    """Save nested ``state`` in ``directory`` as one checkpoint (see the module docstring).

    ``meta`` (JSON-ready, e.g. the epoch and the config) is stored in the manifest and comes
    back from :func:`load_checkpoint`.  The previous checkpoint stays valid until the new
    manifest is in place.
    """
    from safetensors.torch import save

    d = Path(directory)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(state, "", tensors)
    tag = secrets.token_hex(8)
    blobs = {
        "tensors": (f"state-{tag}.safetensors", save(tensors)),
        "state": (
            f"state-{tag}.json",
            json.dumps({"format": FORMAT, "state": skeleton}).encode("utf-8"),
        ),
    }
    for name, blob in blobs.values():
        atomic_write_bytes(d / name, blob)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "files": {
            role: {"name": name, "size": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
            for role, (name, blob) in blobs.items()
        },
        "meta": dict(meta or {}),
    }
    doc["checksum"] = _digest(doc)
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(d / MANIFEST_FILE, text.encode("utf-8"))  # the commit point
    for name in _LEGACY:
        (d / name).unlink(missing_ok=True)
    _clean(d, keep={name for name, _ in blobs.values()})
    return d


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: the nested ``state``, the manifest's ``meta`` and its path."""

    state: dict[str, Any]
    meta: dict[str, Any]
    manifest: Path


def _read_manifest(d: Path) -> dict[str, Any]:
    path = d / MANIFEST_FILE
    if not path.is_file():
        if any((d / n).exists() for n in _LEGACY):
            raise CheckpointError(
                f"{d} holds a checkpoint without {MANIFEST_FILE} (written by archperf before "
                "checkpoint format 2, or interrupted mid-write), so it cannot be verified; "
                "delete the folder or train with resume=False to start over"
            )
        raise CheckpointError(f"no checkpoint in {d}: {path} does not exist")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from None
    doc = load_json_limited(
        data, str(path), CheckpointError, max_bytes=MAX_MANIFEST_BYTES, allow_nan=True
    )
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an archperf checkpoint manifest")
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format_version {version!r}; this archperf reads "
            f"{FORMAT_VERSION} (delete the folder or train with resume=False)"
        )
    if set(doc) != _MANIFEST_KEYS:
        raise CheckpointError(f"{path} must have exactly the keys {sorted(_MANIFEST_KEYS)}")
    body = {k: v for k, v in doc.items() if k != "checksum"}
    if doc["checksum"] != _digest(body):
        raise CheckpointError(f"{path} does not match its own checksum: the file was changed")
    files = doc["files"]
    if not isinstance(files, dict) or set(files) != {"state", "tensors"}:
        raise CheckpointError(f"{path}: files must name exactly 'state' and 'tensors'")
    for role, entry in files.items():
        ok = (
            isinstance(entry, dict)
            and set(entry) == {"name", "size", "sha256"}
            and isinstance(entry["name"], str)
            and _NAME.fullmatch(entry["name"]) is not None
            and type(entry["size"]) is int
            and entry["size"] >= 0
            and isinstance(entry["sha256"], str)
            and _HEX64.fullmatch(entry["sha256"]) is not None
        )
        if not ok:
            raise CheckpointError(f"{path}: bad entry for the {role} file: {entry!r}")
    if not isinstance(doc["meta"], dict):
        raise CheckpointError(f"{path}: meta must be an object")
    return doc


def _read_file(d: Path, entry: dict[str, Any], manifest: Path) -> bytes:
    path = d / entry["name"]
    try:
        size = path.stat().st_size
    except OSError:
        raise CheckpointError(f"{path} (named by {manifest}) is missing") from None
    if size != entry["size"]:
        raise CheckpointError(
            f"{path} has {size} bytes, {manifest} records {entry['size']}: the file was "
            "truncated or changed"
        )
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
        raise CheckpointError(
            f"{path} does not match the SHA-256 recorded in {manifest}: the file is damaged or "
            "was changed"
        )
    return blob


def load_checkpoint(directory: str | os.PathLike[str]) -> Checkpoint:
    """Load and verify what :func:`save_state` wrote; any problem is a
    :class:`~archperf.errors.CheckpointError` naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    d = Path(directory)
    doc = _read_manifest(d)
    manifest = d / MANIFEST_FILE
    files = doc["files"]
    tensor_blob = _read_file(d, files["tensors"], manifest)
    state_blob = _read_file(d, files["state"], manifest)
    state_path = d / files["state"]["name"]
    tensor_path = d / files["tensors"]["name"]
    meta = load_json_limited(
        state_blob, str(state_path), CheckpointError, MAX_JSON_BYTES, allow_nan=True
    )
    if (
        not isinstance(meta, dict)
        or set(meta) != {"format", "state"}
        or (meta["format"] != FORMAT or not isinstance(meta["state"], dict))
    ):
        raise CheckpointError(f"{state_path} is not an archperf checkpoint state")
    try:
        tensors = load(tensor_blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{tensor_path} is not a valid safetensors file: {exc}") from None
    for key, t in tensors.items():
        if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{tensor_path}: tensor {key!r} holds NaN or infinite values")
    result = _unflatten(meta["state"], tensors, state_path)
    assert isinstance(result, dict)
    return Checkpoint(result, doc["meta"], manifest)


def load_state(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The nested state of the verified checkpoint in ``directory`` (see
    :func:`load_checkpoint`)."""
    return load_checkpoint(directory).state
