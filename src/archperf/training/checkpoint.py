"""Checkpoints as safetensors + JSON, written atomically; nothing is ever unpickled.

Arbitrary nested state (module and optimizer state dicts, RNG states, counters) is split into a
flat ``{key: tensor}`` map stored with safetensors and a JSON skeleton that holds everything else
and marks where each tensor goes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from .._io import atomic_write_bytes

__all__ = ["atomic_write_bytes", "load_state", "save_state"]

FORMAT = "archperf-checkpoint"
FORMAT_VERSION = 1
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


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_TENSOR}:
            return tensors[obj[_TENSOR]]
        if set(obj) == {_TUPLE}:
            return tuple(_unflatten(v, tensors) for v in obj[_TUPLE])
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            key: Any = int(k[len("__int__") :]) if k.startswith("__int__") else k
            out[key] = _unflatten(v, tensors)
        return out
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_state(state: dict[str, Any], directory: str | os.PathLike[str]) -> Path:
    """Save nested ``state`` as ``state.safetensors`` + ``state.json`` in ``directory``.

    The JSON is written last, so a directory whose JSON exists holds a complete checkpoint.
    """
    from safetensors.torch import save

    d = Path(directory)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(state, "", tensors)
    atomic_write_bytes(d / "state.safetensors", save(tensors))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "state": skeleton}
    atomic_write_bytes(d / "state.json", json.dumps(meta).encode("utf-8"))
    return d


def load_state(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Load what :func:`save_state` wrote; a clear error names a missing or foreign file."""
    from safetensors.torch import load

    d = Path(directory)
    meta_path, tensor_path = d / "state.json", d / "state.safetensors"
    for p in (meta_path, tensor_path):
        if not p.is_file():
            raise FileNotFoundError(f"checkpoint file {p} is missing")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"checkpoint {meta_path} is not valid JSON: {exc}") from exc
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{meta_path} is not an archperf checkpoint of format version {FORMAT_VERSION}"
        )
    tensors = load(tensor_path.read_bytes())
    result = _unflatten(meta["state"], tensors)
    assert isinstance(result, dict)
    return result
