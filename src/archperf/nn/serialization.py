"""Safe save/load of neural components: safetensors weights + a JSON config, never pickles.

A saved component is a directory with two files:

- ``component.json``: ``{"format": "archperf-component", "format_version": 1,
  "archperf_version": ..., "kind": "predictor", "name": "gin", "config": {...},
  "weights": "weights.safetensors", "weights_sha256": ...}``
- ``weights.safetensors``: the module's ``state_dict``.

Loading reads the JSON, finds the class through the registry (``kind``, ``name``), builds it from
``config`` with the class's ``from_config`` (nested components, e.g. a predictor's encoder, are
specs ``{"kind", "name", "config"}`` built the same way), checks the weights' SHA-256 and loads
them with ``safetensors`` (no ``torch.load``, nothing is unpickled).  Every problem raises
:class:`ComponentFormatError` (a ``ValueError``) or :class:`~archperf.errors.UnknownComponentError`
naming the file and what is wrong.  Files are written atomically (temporary file, then
``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._io import atomic_write_bytes, load_json_limited
from ..errors import ArchperfError, UnknownComponentError
from ..hookspecs import KINDS
from .limits import MAX_LOAD_PARAMETERS

__all__ = [
    "BUNDLE_FILE",
    "CONFIG_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "WEIGHTS_FILE",
    "ComponentFormatError",
    "build_component",
    "check_bundle_file",
    "component_spec",
    "load_component",
    "load_discriminator",
    "load_predictor",
    "save_component",
    "write_bundle_manifest",
]

FORMAT = "archperf-component"
FORMAT_VERSION = 2
#: Largest ``component.json`` accepted (bytes); archperf writes a few kB.
MAX_CONFIG_BYTES = 1024 * 1024
CONFIG_FILE = "component.json"
#: The manifest of a folder of several saves (``BiArch2Perf.save(DIR)``), written last.
BUNDLE_FILE = "manifest.json"
BUNDLE_FORMAT = "archperf-saved-model"
WEIGHTS_FILE = "weights.safetensors"
_KEYS = {
    "format",
    "format_version",
    "archperf_version",
    "kind",
    "name",
    "config",
    "weights",
    "weights_sha256",
}
_CHECKSUM = "checksum"  # format 2: SHA-256 of the document without this key


def _digest(doc: Mapping[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != _CHECKSUM}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ComponentFormatError(ArchperfError, ValueError):
    """A saved component is malformed, tampered with, or does not match its class."""


def component_spec(module: nn.Module) -> dict[str, Any]:
    """``{"kind", "name", "config"}`` of a registered component instance."""
    kind = getattr(module, "registry_kind", "")
    name = getattr(module, "registry_name", "")
    config = getattr(module, "config", None)
    if kind not in KINDS or not name or not callable(config):
        raise ValueError(
            f"{type(module).__name__} is not a saveable component: it needs registry_kind (one "
            f"of {', '.join(KINDS)}), registry_name and config()"
        )
    try:
        cfg = config()
    except NotImplementedError as exc:
        raise ValueError(f"{type(module).__name__} is not a saveable component: {exc}") from None
    try:
        json.dumps(cfg, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{type(module).__name__}.config() is not JSON-ready: {exc}") from exc
    return {"kind": kind, "name": name, "config": cfg}


def build_component(
    spec: Mapping[str, Any], expected_kind: str | None = None, registry: Any = None
) -> nn.Module:
    """Instantiate a component from ``{"kind", "name", "config"}`` through the registry."""
    if not isinstance(spec, Mapping) or set(spec) != {"kind", "name", "config"}:
        keys = sorted(spec) if isinstance(spec, Mapping) else type(spec).__name__
        raise ComponentFormatError(
            f"a component spec needs exactly the keys kind, name, config; got {keys}"
        )
    kind, name, config = spec["kind"], spec["name"], spec["config"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise ComponentFormatError(
            f"unknown component kind {kind!r}; kinds are: {', '.join(KINDS)}"
        )
    if expected_kind is not None and kind != expected_kind:
        raise ComponentFormatError(f"expected a {expected_kind}, got a {kind} ({name!r})")
    if not isinstance(name, str) or not name:
        raise ComponentFormatError(f"component name must be a non-empty string, got {name!r}")
    if not isinstance(config, Mapping):
        raise ComponentFormatError(f"config of {kind} {name!r} must be an object, got {config!r}")
    if registry is None:
        from ..registry import default_registry

        registry = default_registry()
    cls = registry.get(kind, name)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)) or not hasattr(
        cls, "from_config"
    ):
        raise ComponentFormatError(
            f"{kind} {name!r} ({cls!r}) is not a loadable nn.Module component with from_config"
        )
    if getattr(cls, "registry_kind", kind) != kind:
        raise ComponentFormatError(
            f"{kind} {name!r} resolves to {cls.__name__}, which is a "
            f"{getattr(cls, 'registry_kind', '?')}"
        )
    try:
        module = cls.from_config(dict(config))
    except UnknownComponentError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise ComponentFormatError(f"cannot build {kind} {name!r} from its config: {exc}") from exc
    if not isinstance(module, nn.Module):
        raise ComponentFormatError(f"{kind} {name!r} from_config did not return an nn.Module")
    return module


def save_component(module: nn.Module, directory: str | os.PathLike[str]) -> Path:
    """Save ``module`` to ``directory`` (created if needed); returns the directory.

    Weights are written first, then the JSON that names them and their SHA-256 (and carries
    a SHA-256 of itself), each atomically: the JSON is the commit point, so a crash leaves the
    previous save loadable or a clear error, never a silent mix.  An existing save in the same
    directory is replaced.
    """
    from safetensors.torch import save as st_save

    from .. import __version__

    spec = component_spec(module)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").clone().contiguous() for k, v in module.state_dict().items()}
    for key, t in tensors.items():
        if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
            raise ValueError(
                f"cannot save {spec['kind']} {spec['name']!r}: tensor {key!r} holds NaN or "
                "infinite values (it would not load)"
            )
    meta = {"format": FORMAT, "kind": spec["kind"], "name": spec["name"]}
    blob = st_save(tensors, metadata=meta)
    atomic_write_bytes(out / WEIGHTS_FILE, blob)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "archperf_version": __version__,
        "kind": spec["kind"],
        "name": spec["name"],
        "config": spec["config"],
        "weights": WEIGHTS_FILE,
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
    }
    doc[_CHECKSUM] = _digest(doc)
    text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    atomic_write_bytes(out / CONFIG_FILE, text.encode("utf-8"))
    return out


def _read_doc(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"no saved component here: {path} does not exist")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ComponentFormatError(f"cannot read {path}: {exc}") from None
    doc = load_json_limited(data, str(path), ComponentFormatError, max_bytes=MAX_CONFIG_BYTES)
    if not isinstance(doc, dict):
        raise ComponentFormatError(f"{path} must hold a JSON object, got {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise ComponentFormatError(
            f"{path} is not an archperf component (format {doc.get('format')!r})"
        )
    version = doc.get("format_version")
    keys = _KEYS | {_CHECKSUM} if version != 1 else _KEYS  # format 1 had no checksum
    unknown = sorted(set(doc) - keys)
    missing = sorted(keys - set(doc))
    if unknown or missing:
        raise ComponentFormatError(f"{path}: unknown keys {unknown}, missing keys {missing}")
    version = doc["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ComponentFormatError(f"{path}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ComponentFormatError(
            f"{path} has format_version {version}, newer than this archperf reads "
            f"({FORMAT_VERSION}); upgrade archperf"
        )
    if doc["weights"] != WEIGHTS_FILE:
        raise ComponentFormatError(
            f"{path}: weights must be {WEIGHTS_FILE!r} in the same directory, "
            f"got {doc['weights']!r}"
        )
    if version >= 2 and doc[_CHECKSUM] != _digest(doc):
        raise ComponentFormatError(
            f"{path} does not match its own checksum: the file is damaged or was edited "
            "(re-save the component with save_component)"
        )
    sha = doc["weights_sha256"]
    if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        raise ComponentFormatError(f"{path}: weights_sha256 must be 64 hex digits, got {sha!r}")
    return doc


def _probe_shapes(
    spec: Mapping[str, Any], expected_kind: str | None, registry: Any, cfg_path: Path
) -> dict[str, tuple[int, ...]] | None:
    """Build the component on torch's ``meta`` device (no memory) and return its state-dict
    shapes, after refusing more than :data:`~archperf.nn.limits.MAX_LOAD_PARAMETERS` values.

    ``None`` when the class cannot be built on the meta device (a plugin doing real
    computation in its constructor); then only its own argument checks guard the build.
    """
    try:
        with torch.device("meta"):
            probe = build_component(spec, expected_kind=expected_kind, registry=registry)
    except UnknownComponentError as exc:
        raise UnknownComponentError(f"{cfg_path}: {exc}") from exc
    except ComponentFormatError as exc:
        raise ComponentFormatError(f"{cfg_path}: {exc}") from exc
    except (NotImplementedError, RuntimeError):
        return None
    state = probe.state_dict()
    total = sum(t.numel() for t in state.values())
    if total > MAX_LOAD_PARAMETERS:
        raise ComponentFormatError(
            f"{cfg_path}: the config describes a {_what(spec)} of {total:,} parameters, more "
            f"than the limit of {MAX_LOAD_PARAMETERS:,} for a loaded component"
        )
    return {k: tuple(v.shape) for k, v in state.items()}


def _what(spec: Mapping[str, Any]) -> str:
    return f"{spec['kind']} {spec['name']!r}"


def _check_fit(
    own: Mapping[str, tuple[int, ...]],
    tensors: Mapping[str, torch.Tensor],
    doc: Mapping[str, Any],
    w_path: Path,
    cfg_path: Path,
) -> None:
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    if missing or unexpected:
        raise ComponentFormatError(
            f"{w_path} does not fit {doc['kind']} {doc['name']!r} built from {cfg_path}: "
            f"missing tensors {missing[:5]}, unexpected tensors {unexpected[:5]}"
        )
    bad = [
        f"{k}: saved {tuple(tensors[k].shape)}, expected {shape}"
        for k, shape in own.items()
        if tuple(tensors[k].shape) != shape
    ]
    if bad:
        raise ComponentFormatError(
            f"{w_path} does not fit the config in {cfg_path}: " + "; ".join(bad[:5])
        )


def write_bundle_manifest(directory: Path, names: list[str]) -> Path:
    """Commit a folder of saves: ``manifest.json`` with the SHA-256 of each file in ``names``
    (paths relative to ``directory``; a component's ``component.json`` covers its weights),
    written atomically after everything else.  :func:`load_component` checks a component
    loaded from such a folder against it, so a save interrupted while it replaced an older one
    is a clear error, not a silent mix of old and new components."""
    files = {n: hashlib.sha256((directory / n).read_bytes()).hexdigest() for n in names}
    doc: dict[str, Any] = {"format": BUNDLE_FORMAT, "format_version": 1, "files": files}
    doc[_CHECKSUM] = _digest(doc)
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(directory / BUNDLE_FILE, text.encode("utf-8"))
    return directory / BUNDLE_FILE


def check_bundle_file(directory: Path, name: str) -> None:
    """A file ``name`` of a folder of saves must be the one its ``manifest.json`` recorded
    (:func:`write_bundle_manifest`); :class:`ComponentFormatError` otherwise, also when the
    manifest is missing or does not record the file."""
    bundle = directory / BUNDLE_FILE
    if not bundle.is_file():
        raise ComponentFormatError(f"{bundle} is missing: the save is incomplete")
    doc = load_json_limited(
        bundle.read_bytes(), str(bundle), ComponentFormatError, MAX_CONFIG_BYTES
    )
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        raise ComponentFormatError(f"{bundle} is not an archperf manifest")
    if doc.get(_CHECKSUM) != _digest(doc) or not isinstance(doc.get("files"), dict):
        raise ComponentFormatError(f"{bundle} does not match its own checksum: it was changed")
    want = doc["files"].get(name)
    path = directory / name
    if want is None or not path.is_file():
        raise ComponentFormatError(f"{bundle} does not record {name}, or {path} is missing")
    if hashlib.sha256(path.read_bytes()).hexdigest() != want:
        raise ComponentFormatError(
            f"{path} is not the file recorded in {bundle}: the save was interrupted or the "
            "folder was changed; save the model again"
        )


def _check_bundle(root: Path, cfg_path: Path) -> None:
    """If ``root`` is a component folder inside a folder with a bundle manifest, the component
    must be the one that manifest recorded."""
    bundle = root.parent / BUNDLE_FILE
    if not bundle.is_file():
        return  # a lone save, or one written before bundle manifests
    doc = load_json_limited(
        bundle.read_bytes(), str(bundle), ComponentFormatError, MAX_CONFIG_BYTES
    )
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        return  # someone else's manifest.json
    if doc.get(_CHECKSUM) != _digest(doc) or not isinstance(doc.get("files"), dict):
        raise ComponentFormatError(f"{bundle} does not match its own checksum: it was changed")
    key = f"{root.name}/{CONFIG_FILE}"
    want = doc["files"].get(key)
    if want is None:
        return
    if hashlib.sha256(cfg_path.read_bytes()).hexdigest() != want:
        raise ComponentFormatError(
            f"{cfg_path} is not the {root.name} recorded in {bundle}: the save was interrupted "
            "or the folder was changed; save the model again"
        )


def load_component(
    directory: str | os.PathLike[str],
    expected_kind: str | None = None,
    device: Any = None,
    registry: Any = None,
) -> nn.Module:
    """Load a component saved by :func:`save_component`, in eval mode, on ``device``.

    ``directory`` is the component's folder or, with ``expected_kind``, a folder holding it as
    the subfolder ``expected_kind`` (what ``BiArch2Perf.save(DIR)`` writes: ``DIR/predictor``,
    ``DIR/generator``, ...).  Raises :class:`ComponentFormatError` for a malformed, tampered or
    mismatched save and :class:`~archperf.errors.UnknownComponentError` when its kind/name is
    not registered.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    root = Path(directory)
    if (
        expected_kind is not None
        and not (root / CONFIG_FILE).exists()
        and (root / expected_kind / CONFIG_FILE).is_file()
    ):
        root = root / expected_kind
    cfg_path = root / CONFIG_FILE
    if not cfg_path.is_file() and expected_kind is not None:
        raise FileNotFoundError(
            f"no saved {expected_kind} here: neither {cfg_path} nor "
            f"{root / expected_kind / CONFIG_FILE} (as trainer.save(DIR) writes) exists"
        )
    doc = _read_doc(cfg_path)
    _check_bundle(root, cfg_path)
    spec = {"kind": doc["kind"], "name": doc["name"], "config": doc["config"]}
    shapes = _probe_shapes(spec, expected_kind, registry, cfg_path)
    w_path = root / WEIGHTS_FILE
    if not w_path.is_file():
        raise FileNotFoundError(f"{w_path} is missing (named by {cfg_path})")
    blob = w_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != doc["weights_sha256"]:
        raise ComponentFormatError(
            f"{w_path} does not match the SHA-256 recorded in {cfg_path}: the file was changed "
            "or belongs to another save"
        )
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ComponentFormatError(f"{w_path} is not a valid safetensors file: {exc}") from exc
    for key, t in tensors.items():
        if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
            raise ComponentFormatError(f"{w_path}: tensor {key!r} holds NaN or infinite values")
    if shapes is not None:
        _check_fit(shapes, tensors, doc, w_path, cfg_path)
    try:
        module = build_component(spec, expected_kind=expected_kind, registry=registry)
    except UnknownComponentError as exc:
        raise UnknownComponentError(f"{cfg_path}: {exc}") from exc
    except ComponentFormatError as exc:
        raise ComponentFormatError(f"{cfg_path}: {exc}") from exc
    _check_fit(
        {k: tuple(v.shape) for k, v in module.state_dict().items()}, tensors, doc, w_path, cfg_path
    )
    module.load_state_dict(tensors, strict=True)
    if device is not None:
        module.to(torch.device(device))
    module.eval()
    return module


def load_predictor(directory: str | os.PathLike[str], device: Any = None) -> nn.Module:
    """Load a saved performance predictor (eval mode); call ``.predict(cells, space=...)``."""
    return load_component(directory, expected_kind="predictor", device=device)


def load_discriminator(directory: str | os.PathLike[str], device: Any = None) -> nn.Module:
    """Load a saved discriminator (eval mode)."""
    return load_component(directory, expected_kind="discriminator", device=device)
