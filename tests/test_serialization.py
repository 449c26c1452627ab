"""save_component / load_component: safetensors + JSON, identical outputs, tamper refusal."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import registry
from archperf.cell import Cell, CellBatch
from archperf.errors import UnknownComponentError
from archperf.nn.discriminator import GINDiscriminator
from archperf.nn.gin import DenseGIN
from archperf.nn.predictor import GINPredictor
from archperf.nn.serialization import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    ComponentFormatError,
    _digest,
    load_component,
    load_discriminator,
    save_component,
)

HAS_PYG = importlib.util.find_spec("torch_geometric") is not None
HAS_DGL = importlib.util.find_spec("dgl") is not None


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def batch(num_ops: int = 7, n: int = 8, b: int = 5, seed: int = 0) -> CellBatch:
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(n).unsqueeze(0) < torch.randint(2, n + 1, (b,), generator=g).unsqueeze(1)
    adj = (torch.rand(b, n, n, generator=g) < 0.5).float().triu(1)
    adj = adj * torch.rand(b, n, n, generator=g) * (mask.unsqueeze(1) & mask.unsqueeze(2))
    ops = torch.softmax(torch.randn(b, n, num_ops, generator=g), -1) * mask.unsqueeze(-1)
    return CellBatch(adj, ops, mask, num_ops)


def trained_a_bit(module: torch.nn.Module) -> torch.nn.Module:
    """Move parameters and batch-norm statistics away from their init."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif t.dtype.is_floating_point:
                t.add_(0.05 * torch.randn(t.shape, generator=g))
    return module.eval()


def outputs(module: torch.nn.Module, b: CellBatch) -> torch.Tensor:
    with torch.no_grad():
        if isinstance(module, GINDiscriminator):
            if module.num_classes:
                return module(b, torch.arange(b.batch_size) % module.num_classes)
            return module(b, torch.linspace(0, 1, b.batch_size))
        out = module(b)
        return out.graph if hasattr(out, "graph") else out


COMPONENTS: dict[str, Any] = {
    "predictor": lambda: GINPredictor(num_ops=7, seed=0),
    "predictor-custom": lambda: GINPredictor(
        DenseGIN(7, hidden_dim=8, num_layers=5, direction="in", pooling="mean", norm="layer"),
        mlp_dims=(12,),
    ),
    "discriminator-classes": lambda: GINDiscriminator(3, num_ops=7, seed=0),
    "discriminator-continuous": lambda: GINDiscriminator(None, num_ops=7, cond_dim=5, seed=0),
    "encoder": lambda: DenseGIN(7, seed=0, eps_learnable=False),
}
if HAS_PYG:
    COMPONENTS["predictor-pyg"] = lambda: GINPredictor(
        registry.create("encoder", "gin-pyg", num_ops=7, seed=0)
    )
if HAS_DGL:
    COMPONENTS["encoder-dgl"] = lambda: registry.create("encoder", "gin-dgl", num_ops=7)


@pytest.mark.parametrize("which", list(COMPONENTS))
def test_round_trip_gives_identical_outputs(which: str, tmp_path: Path) -> None:
    module = trained_a_bit(COMPONENTS[which]())
    b = batch()
    ref = outputs(module, b)
    save_component(module, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    loaded = load_component(tmp_path / "m")
    assert type(loaded) is type(module) and not loaded.training
    assert loaded.config() == module.config()
    assert torch.equal(outputs(loaded, b), ref)
    for (k1, v1), (k2, v2) in zip(
        module.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k1 == k2 and torch.equal(v1, v2)


@settings(max_examples=8, deadline=None)
@given(
    hidden=st.integers(1, 24),
    layers=st.integers(1, 5),
    direction=st.sampled_from(["in", "out", "both"]),
    pooling=st.sampled_from(["sum", "mean"]),
    norm=st.sampled_from(["batch", "layer", "none"]),
    mlp=st.lists(st.integers(1, 16), max_size=3),
)
def test_round_trip_any_config(
    hidden: int, layers: int, direction: str, pooling: str, norm: str, mlp: list[int]
) -> None:
    enc = DenseGIN(5, hidden, layers, direction, pooling=pooling, norm=norm)
    pp = trained_a_bit(GINPredictor(enc, mlp_dims=tuple(mlp)))
    b = batch(num_ops=5, n=7)
    with tempfile.TemporaryDirectory() as d:
        save_component(pp, d)
        again = load_component(d, expected_kind="predictor")
    assert torch.equal(outputs(again, b), outputs(pp, b))


def test_load_predictor_three_lines(tmp_path: Path) -> None:
    pp = trained_a_bit(GINPredictor(num_ops=7, seed=0, target_mean=80.0, target_std=5.0))
    save_component(pp, tmp_path)
    cells = [Cell([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [0, 3, 6]), Cell([[0, 1], [0, 0]], [0, 6])]
    from archperf import load_predictor

    loaded = load_predictor(tmp_path)
    np.testing.assert_array_equal(loaded.predict(cells), pp.predict(cells))
    assert float(loaded.target_mean) == float(pp.target_mean) != 0.0


def test_loading_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = trained_a_bit(GINDiscriminator(3, num_ops=7, seed=0))
    save_component(module, tmp_path)
    raw = (tmp_path / WEIGHTS_FILE).read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    assert json.loads(raw[8 : 8 + header_len])["__metadata__"]["kind"] == "discriminator"

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling during load")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    loaded = load_discriminator(tmp_path)
    b = batch()
    assert torch.equal(outputs(loaded, b), outputs(module, b))


# -- refusing tampered and unknown saves -------------------------------------------------------


def _edit(path: Path, fn: Any, resign: bool = True) -> None:
    """Edit component.json; ``resign`` recomputes its checksum (a deliberate edit), so the
    checks behind the checksum are what is tested."""
    doc = json.loads((path / CONFIG_FILE).read_text())
    fn(doc)
    if resign and "checksum" in doc:
        doc["checksum"] = _digest(doc)
    (path / CONFIG_FILE).write_text(json.dumps(doc))


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    save_component(GINPredictor(num_ops=7, seed=0), tmp_path / "pp")
    return tmp_path / "pp"


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda d: d.update(name="no-such-pp"), UnknownComponentError, "no predictor named"),
        (lambda d: d.update(kind="spaceship"), ComponentFormatError, "unknown component kind"),
        (lambda d: d.update(format="pickle"), ComponentFormatError, "not an archperf component"),
        (lambda d: d.update(format_version=99), ComponentFormatError, "newer than"),
        (lambda d: d.update(extra=1), ComponentFormatError, r"unknown keys \['extra'\]"),
        (lambda d: d.pop("weights_sha256"), ComponentFormatError, "missing keys"),
        (lambda d: d.update(weights="../../x.bin"), ComponentFormatError, "same directory"),
        (lambda d: d.update(weights_sha256="0" * 64), ComponentFormatError, "SHA-256"),
        (lambda d: d["config"].update(evil=1), ComponentFormatError, "cannot build"),
        (lambda d: d["config"].update(mlp_dims=[8]), ComponentFormatError, "does not fit"),
        (
            lambda d: d["config"]["encoder"]["config"].update(hidden_dim=16),
            ComponentFormatError,
            "does not fit",
        ),
        (
            lambda d: d["config"]["encoder"].update(name="gin-nowhere"),
            UnknownComponentError,
            "no encoder named 'gin-nowhere'",
        ),
        (
            lambda d: d["config"]["encoder"].update(kind="predictor"),
            ComponentFormatError,
            "expected a encoder",
        ),
        (
            lambda d: d["config"]["encoder"]["config"].update(direction="sideways"),
            ComponentFormatError,
            "direction must be one of",
        ),
        (lambda d: d.update(kind="discriminator"), ComponentFormatError, "expected a predictor"),
    ],
)
def test_tampered_config_is_refused(
    saved: Path, edit: Any, error: type[Exception], match: str
) -> None:
    _edit(saved, edit)
    with pytest.raises(error, match=match) as info:
        load_component(saved, expected_kind="predictor")
    if error is ComponentFormatError:
        assert isinstance(info.value, ValueError)


def test_tampered_weights_are_refused(saved: Path) -> None:
    w = saved / WEIGHTS_FILE
    data = bytearray(w.read_bytes())
    data[-3] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ComponentFormatError, match="SHA-256"):
        load_component(saved)
    # a consistent hash over a broken file is still refused, by the safetensors parser
    garbage = b"not a safetensors file"
    w.write_bytes(garbage)
    _edit(saved, lambda d: d.update(weights_sha256=hashlib.sha256(garbage).hexdigest()))
    with pytest.raises(ComponentFormatError, match="not a valid safetensors"):
        load_component(saved)


def test_weights_of_another_component_are_refused(saved: Path, tmp_path: Path) -> None:
    save_component(GINDiscriminator(3, num_ops=7), tmp_path / "d")
    blob = (tmp_path / "d" / WEIGHTS_FILE).read_bytes()
    (saved / WEIGHTS_FILE).write_bytes(blob)
    _edit(saved, lambda d: d.update(weights_sha256=hashlib.sha256(blob).hexdigest()))
    with pytest.raises(ComponentFormatError, match="missing tensors"):
        load_component(saved)


def test_missing_and_malformed_files(tmp_path: Path, saved: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no saved component"):
        load_component(tmp_path / "nowhere")
    (saved / CONFIG_FILE).write_text("{not json")
    with pytest.raises(ComponentFormatError, match="not valid JSON"):
        load_component(saved)
    (saved / CONFIG_FILE).write_text("[1, 2]")
    with pytest.raises(ComponentFormatError, match="JSON object"):
        load_component(saved)


def test_unregistered_module_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a saveable component"):
        save_component(torch.nn.Linear(2, 2), tmp_path)


# -- atomic writes -----------------------------------------------------------------------------


def test_overwrite_and_failed_write_leave_a_consistent_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = trained_a_bit(GINPredictor(num_ops=7, seed=0))
    second = trained_a_bit(GINPredictor(num_ops=7, seed=1))
    save_component(first, tmp_path)
    save_component(second, tmp_path)  # replaces the first
    b = batch()
    assert torch.equal(outputs(load_component(tmp_path), b), outputs(second, b))

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_component(first, tmp_path)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    assert torch.equal(outputs(load_component(tmp_path), b), outputs(second, b))


def test_import_archperf_stays_light() -> None:
    code = (
        "import sys, archperf\n"
        "assert 'torch' not in sys.modules, 'import archperf imported torch'\n"
        "f = archperf.load_predictor\n"
        "assert callable(f) and 'torch' in sys.modules\n"
        "from archperf import save_component, load_component\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
