"""Bi-Arch2Perf's checkpoints and saved models, on the file machinery of
:mod:`archperf.training.checkpoint` (safetensors + JSON under a manifest, nothing pickled).

A checkpoint holds the weights and optimiser states of the trained players (PP; D and AG too
with adversarial training), the RNG states, the condition and the history.
:func:`restore_checkpoint` checks everything before it changes anything; any problem is a
:class:`~archperf.errors.CheckpointError` naming the checkpoint.  :func:`save_trained` writes a
trained model (one folder per component, plus config, condition and history).
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..interfaces import Condition
from .assembly import Players
from .checkpoint import atomic_write_bytes, load_checkpoint, save_state
from .config import TrainerConfig
from .history import History

__all__ = [
    "RESUME_MAY_CHANGE",
    "checkpoint_state",
    "restore_checkpoint",
    "save_checkpoint",
    "save_trained",
]

#: Config fields that may change between a run and its resume (where and how fast it runs).
RESUME_MAY_CHANGE = ("epochs", "progress", "device", "threads")

_ADVERSARIAL_KEYS = ("discriminator", "generator", "opt_discriminator", "opt_generator")


def _modules(players: Players) -> list[tuple[Any, str]]:
    """``(object, state key)`` of every module and optimiser that is trained."""
    out: list[tuple[Any, str]] = [(players.predictor, "predictor")]
    if players.discriminator is not None and players.generator is not None:
        out += [(players.discriminator, "discriminator"), (players.generator, "generator")]
    out.append((players.opt_predictor, "opt_predictor"))
    if players.opt_discriminator is not None and players.opt_generator is not None:
        out += [
            (players.opt_discriminator, "opt_discriminator"),
            (players.opt_generator, "opt_generator"),
        ]
    return out


def checkpoint_state(
    players: Players,
    condition: Condition,
    history: History,
    epoch: int,
    rng: np.random.Generator,
    tgen: torch.Generator,
) -> dict[str, Any]:
    """The state a checkpoint stores (see the module doc)."""
    state: dict[str, Any] = {"epoch": epoch}
    for obj, key in _modules(players):
        state[key] = obj.state_dict()
    state |= {
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "torch_rng": tgen.get_state(),
        "condition": json.dumps(condition.to_config()),
        "history": history.to_dict(),
    }
    return state


def save_checkpoint(
    directory: Path,
    config: TrainerConfig,
    players: Players,
    condition: Condition,
    history: History,
    epoch: int,
    rng: np.random.Generator,
    tgen: torch.Generator,
) -> None:
    meta = {"epoch": epoch, "config": config.to_dict()}
    state = checkpoint_state(players, condition, history, epoch, rng, tgen)
    save_state(state, directory, meta=meta)


def restore_checkpoint(
    directory: Path,
    config: TrainerConfig,
    players: Players,
    condition: Condition,
    rng: np.random.Generator,
    tgen: torch.Generator,
    last_epoch: int,
) -> tuple[int, History]:
    """Restore the verified checkpoint in ``directory`` into ``players``, ``rng`` and ``tgen``;
    return its epoch and history.

    Everything is checked before anything is touched: the files (manifest, hashes, see
    :mod:`archperf.training.checkpoint`), the config it was made with, the epoch (an integer in
    ``[0, last_epoch]``), the history (one entry per epoch) and the RNG states.  A checkpoint
    of a supervised run (``adversarial=False``) made before D and AG were left out holds their
    states too; they are ignored.
    """
    ck = load_checkpoint(directory)
    where = ck.manifest
    old = ck.meta.get("config")
    if not isinstance(old, dict):
        raise CheckpointError(f"{where}: meta.config must be the run's config object")
    mine = config.to_dict()
    diff = sorted(
        k
        for k in set(old) | set(mine)
        if k not in RESUME_MAY_CHANGE and (k not in mine or old.get(k, mine[k]) != mine[k])
    )
    if diff:
        raise CheckpointError(
            f"checkpoint in {directory} was made with a different config "
            f"(differs in: {', '.join(diff)}); use another directory or resume=False"
        )
    st = ck.state
    pairs = _modules(players)
    keys = {"epoch", "numpy_rng", "torch_rng", "condition", "history"} | {k for _, k in pairs}
    allowed = [keys]
    if players.discriminator is None:
        allowed.append(keys | set(_ADVERSARIAL_KEYS))
    if set(st) not in allowed:
        raise CheckpointError(
            f"{where}: the state must have the keys {sorted(keys)}, got {sorted(st)}"
        )
    epoch = st["epoch"]
    if type(epoch) is not int or not 0 <= epoch <= last_epoch:
        raise CheckpointError(
            f"{where}: epoch {epoch!r} is not an integer in [0, {last_epoch}] (the epochs "
            "this run trains); use resume=False to start over or raise epochs"
        )
    if ck.meta.get("epoch") != epoch:
        raise CheckpointError(
            f"{where}: meta.epoch {ck.meta.get('epoch')!r} disagrees with the state's {epoch}"
        )
    try:
        history = History.from_dict(st["history"])
    except (TypeError, AttributeError) as exc:
        raise CheckpointError(f"{where}: bad history: {exc}") from None
    for f in fields(History):
        if len(getattr(history, f.name)) != epoch:
            raise CheckpointError(
                f"{where}: history.{f.name} has {len(getattr(history, f.name))} entries "
                f"for {epoch} epochs"
            )
    if history.epoch != list(range(1, epoch + 1)):
        raise CheckpointError(f"{where}: history.epoch is not 1..{epoch}")
    try:
        cond = json.loads(st["condition"])
        np_state = json.loads(st["numpy_rng"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: bad condition or RNG state: {exc}") from None
    if cond != condition.to_config():
        raise CheckpointError(f"checkpoint in {directory} used another condition")
    torch_state = st["torch_rng"]
    if not (isinstance(torch_state, torch.Tensor) and torch_state.dtype == torch.uint8):
        raise CheckpointError(f"{where}: torch_rng must be a uint8 tensor")
    probe_rng, probe_tgen = np.random.default_rng(), torch.Generator(device="cpu")
    try:  # on throwaway generators first, so a bad state changes nothing
        probe_rng.bit_generator.state = np_state
        probe_tgen.set_state(torch_state)
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{where}: bad RNG state: {exc}") from None
    for obj, key in pairs:
        try:
            obj.load_state_dict(st[key])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
            text = " ".join(str(exc).split())
            raise CheckpointError(f"{where}: {key} does not fit this run's model: {text}") from None
    rng.bit_generator.state = np_state
    tgen.set_state(torch_state)
    return epoch, history


def save_trained(
    directory: str | Path,
    config: TrainerConfig,
    players: Players,
    condition: Condition,
    history: History,
) -> Path:
    """Save the trained components (safetensors + JSON each: ``predictor/`` and, when trained,
    ``discriminator/`` and ``generator/``) plus the config, the condition and the history,
    then ``manifest.json`` with the hash of each (written last)."""
    from ..nn.serialization import CONFIG_FILE, save_component, write_bundle_manifest

    out = Path(directory)
    parts = ["predictor"]
    save_component(players.predictor, out / "predictor")
    if players.discriminator is not None and players.generator is not None:
        save_component(players.discriminator, out / "discriminator")
        save_component(players.generator, out / "generator")
        parts += ["discriminator", "generator"]
    atomic_write_bytes(out / "config.json", config.to_json().encode("utf-8"))
    atomic_write_bytes(out / "condition.json", json.dumps(condition.to_config()).encode("utf-8"))
    history.save(out / "history.json")
    names = [f"{c}/{CONFIG_FILE}" for c in parts]
    write_bundle_manifest(out, [*names, "config.json", "condition.json", "history.json"])
    return out
