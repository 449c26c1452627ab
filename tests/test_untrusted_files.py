"""Untrusted saved components (issue #13): sizes and depth are validated before anything is
allocated, every byte is covered by a hash, NaN weights never load or predict silently, and the
CLI reports each problem in one line."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archperf.cell import Cell
from archperf.cli import main
from archperf.errors import ArchperfError, NonFinitePredictionError
from archperf.nn import limits
from archperf.nn.generator import ConditionalGenerator
from archperf.nn.gin import DenseGIN
from archperf.nn.predictor import GINPredictor
from archperf.nn.serialization import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    ComponentFormatError,
    _digest,
    load_component,
    save_component,
)

CELLS = [Cell([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [0, 3, 6]), Cell([[0, 1], [0, 0]], [0, 6])]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    save_component(GINPredictor(num_ops=7, hidden_dim=8, mlp_dims=(8,), seed=0), tmp_path / "pp")
    return tmp_path / "pp"


def _edit(path: Path, fn: Any) -> None:
    """A deliberate edit of component.json, re-signed, so only validation can stop it."""
    doc = json.loads((path / CONFIG_FILE).read_text())
    fn(doc)
    doc["checksum"] = _digest(doc)
    (path / CONFIG_FILE).write_text(json.dumps(doc))


def _encoder_cfg(doc: dict[str, Any]) -> dict[str, Any]:
    cfg: dict[str, Any] = doc["config"]["encoder"]["config"]
    return cfg


def _replace_weights(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save

    blob = save(tensors)
    (path / WEIGHTS_FILE).write_bytes(blob)
    _edit(path, lambda d: d.update(weights_sha256=hashlib.sha256(blob).hexdigest()))


# -- sizes and depth are checked before allocating ---------------------------------------------


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda d: _encoder_cfg(d).update(hidden_dim=10**9),
            r"hidden_dim must lie in \[1, 65536\]",
        ),
        (lambda d: _encoder_cfg(d).update(num_layers=10**6), r"num_layers must lie in \[1, 64\]"),
        (lambda d: _encoder_cfg(d).update(num_layers=1e6), "num_layers must be an integer"),
        (lambda d: _encoder_cfg(d).update(num_ops=10**12), "num_ops must lie in"),
        (lambda d: d["config"].update(mlp_dims=[8] * 10**5), "more than the limit of 64"),
        (lambda d: d["config"].update(mlp_dims=[10**9]), r"integers in \[1, 65536\]"),
        # every number within its own limit, together 545 billion parameters: counted on the
        # meta device, never allocated
        (
            lambda d: _encoder_cfg(d).update(hidden_dim=65536, num_layers=64),
            "parameters, more than the limit",
        ),
    ],
)
def test_huge_configs_are_refused_fast_without_allocating(
    saved: Path, edit: Any, match: str
) -> None:
    _edit(saved, edit)
    t0 = time.perf_counter()
    with pytest.raises(ComponentFormatError, match=match) as info:
        load_component(saved, expected_kind="predictor")
    assert time.perf_counter() - t0 < 10.0
    assert str(saved / CONFIG_FILE) in str(info.value) and "\n" not in str(info.value)


def test_limits_hold_for_constructors_too() -> None:
    with pytest.raises(ValueError, match="hidden_dim"):
        DenseGIN(7, hidden_dim=limits.MAX_WIDTH + 1)
    with pytest.raises(ValueError, match="num_layers"):
        ConditionalGenerator("nb201", 5, num_layers=limits.MAX_LAYERS + 1)
    with pytest.raises(ValueError, match="z_dim"):
        ConditionalGenerator("nb201", 5, z_dim=10**9)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[" * 100_000, "deeper than 64"),
        ('{"a": ' * 100_000 + "1" + "}" * 100_000, "deeper than 64"),
        (" " * (2 * 1024 * 1024) + "{}", "over the limit"),
        ('{"format": NaN}', "not valid JSON"),
        ("\xff\xfe{", "not valid JSON|not UTF-8"),
    ],
)
def test_hostile_json_is_one_clear_error(saved: Path, text: str, match: str) -> None:
    (saved / CONFIG_FILE).write_bytes(text.encode("utf-8", errors="surrogateescape"))
    with pytest.raises(ComponentFormatError, match=match) as info:
        load_component(saved)
    assert "\n" not in str(info.value)


# -- every byte is covered ---------------------------------------------------------------------


def test_flipped_digit_in_config_is_refused(saved: Path) -> None:
    """Change the seed (a value no shape check sees): the self-checksum catches it."""
    path = saved / CONFIG_FILE
    text = path.read_text()
    assert '"seed": 0' in text
    path.write_text(text.replace('"seed": 0', '"seed": 1', 1))
    with pytest.raises(ComponentFormatError, match="its own checksum"):
        load_component(saved)


def test_format_1_saves_still_load(saved: Path) -> None:
    """Saves from before the checksum (format 1) load, with every other check."""
    ref = load_component(saved).predict(CELLS)
    doc = json.loads((saved / CONFIG_FILE).read_text())
    doc.pop("checksum")
    doc["format_version"] = 1
    (saved / CONFIG_FILE).write_text(json.dumps(doc))
    np.testing.assert_array_equal(load_component(saved).predict(CELLS), ref)
    doc["checksum"] = "0" * 64  # format 1 knows no checksum key
    (saved / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(ComponentFormatError, match="unknown keys"):
        load_component(saved)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_corruption_is_detected(saved: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from([CONFIG_FILE, WEIGHTS_FILE]))
    path = saved / name
    original = path.read_bytes()
    pos = data.draw(st.integers(0, len(original) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != original[pos]))
    corrupted = bytearray(original)
    corrupted[pos] = new
    ref = GINPredictor(num_ops=7, hidden_dim=8, mlp_dims=(8,), seed=0).predict(CELLS)
    try:
        path.write_bytes(bytes(corrupted))
        try:
            loaded = load_component(saved)
        except ArchperfError as exc:
            assert "\n" not in str(exc) and str(saved) in str(exc)
            return
        # only an invisible change (JSON whitespace) may load, and then it is the same model
        assert name == CONFIG_FILE
        np.testing.assert_array_equal(loaded.predict(CELLS), ref)
    finally:
        path.write_bytes(original)


# -- NaN weights -------------------------------------------------------------------------------


def test_nan_weights_are_refused_on_load_naming_the_tensor(saved: Path) -> None:
    from safetensors.torch import load

    tensors = load((saved / WEIGHTS_FILE).read_bytes())
    tensors["head.0.weight"][0, 0] = float("nan")
    _replace_weights(saved, tensors)
    with pytest.raises(ComponentFormatError, match=r"'head\.0\.weight' holds NaN") as info:
        load_component(saved)
    assert str(saved / WEIGHTS_FILE) in str(info.value)


def test_nan_weights_are_refused_on_save(tmp_path: Path) -> None:
    pp = GINPredictor(num_ops=7, seed=0)
    with torch.no_grad():
        pp.target_std.fill_(float("inf"))
    with pytest.raises(ValueError, match="'target_std' holds NaN or infinite"):
        save_component(pp, tmp_path)


def test_predict_with_nan_weights_raises() -> None:
    pp = GINPredictor(num_ops=7, seed=0)
    assert np.isfinite(pp.predict(CELLS)).all()
    with torch.no_grad():
        next(pp.head.parameters()).fill_(float("nan"))
    with pytest.raises(NonFinitePredictionError, match="2 of 2 cells"):
        pp.predict(CELLS)
    assert isinstance(NonFinitePredictionError("x"), FloatingPointError)


# -- the CLI prints one line -------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_generator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("gen")
    save_component(ConditionalGenerator("nb201", 5, hidden_dim=8, seed=0), d / "generator")
    return d


def _damage_weights(d: Path) -> None:
    w = d / "generator" / WEIGHTS_FILE
    data = bytearray(w.read_bytes())
    data[-2] ^= 0x10
    w.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: None, None),
        (_damage_weights, "SHA-256"),
        (lambda d: (d / "generator" / CONFIG_FILE).write_text("[" * 100_000), "deeper than"),
        (
            lambda d: _edit(d / "generator", lambda c: c["config"].update(hidden_dim=10**9)),
            "hidden_dim",
        ),
        (
            lambda d: _edit(
                d / "generator", lambda c: c["config"].update(hidden_dim=65536, num_layers=64)
            ),
            "parameters",
        ),
    ],
)
def test_cli_generate_reports_damaged_models_in_one_line(
    saved_generator: Path, damage: Any, match: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    d = Path(tempfile.mkdtemp())
    try:
        shutil.copytree(saved_generator, d, dirs_exist_ok=True)
        damage(d)
        rc = main(["generate", "--space", "nb201", "-n", "3", "--model", str(d)])
        err = capsys.readouterr().err
        if match is None:
            assert rc == 0
            return
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1, err
        assert lines[0].startswith("archperf generate: error: ") and match in lines[0]
        assert "Traceback" not in err
    finally:
        shutil.rmtree(d)
