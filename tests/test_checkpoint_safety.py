"""Crash-safe, verified training checkpoints (issue #13): a checkpoint is one atomically
committed unit (files under fresh names, then a manifest with their hashes, written last);
resuming equals the uninterrupted run or raises one clear error naming the file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archperf.errors import ArchperfError, CheckpointError
from archperf.spaces.nb201 import NB201Space
from archperf.training import checkpoint as ckmod
from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig
from archperf.training.checkpoint import MANIFEST_FILE, load_state, save_state
from archperf.training.loop import Stepper


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _data() -> tuple[list[Any], np.ndarray, list[Any]]:
    space = NB201Space()
    cells = space.sample(16, seed=0)
    ops = np.array([c.ops[1:7] for c in cells], dtype=float)
    y = 70 + 3.0 * (ops == 4).sum(1) - 4.0 * (ops == 1).sum(1)
    return cells, y, space.sample(32, seed=1)


def _tiny(**kw: Any) -> TrainerConfig:
    base: dict[str, Any] = dict(
        space="nb201",
        epochs=4,
        labeled_batch_size=8,
        unlabeled_batch_size=8,
        generator_batch_size=8,
        progress=False,
        seed=3,
        device="cpu",
        predictor_kwargs={"hidden_dim": 4, "mlp_dims": [4]},
        discriminator_kwargs={"hidden_dim": 4, "mlp_dims": [4]},
        generator_kwargs={"hidden_dim": 4},
    )
    base.update(kw)
    return TrainerConfig(**base)


def _weights(tr: BiArch2Perf) -> dict[str, torch.Tensor]:
    return {
        f"{n}.{k}": v.clone()
        for n in ("predictor", "discriminator", "generator")
        for k, v in getattr(tr, n).state_dict().items()
    }


@pytest.fixture(scope="module")
def full_run() -> tuple[list[float], dict[str, torch.Tensor]]:
    cells, y, pool = _data()
    tr = BiArch2Perf(_tiny())
    h = tr.fit(cells, y, pool)
    return h.loss_predictor, _weights(tr)


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    """A checkpoint after 2 of 4 epochs."""
    cells, y, pool = _data()
    BiArch2Perf(_tiny()).fit(cells, y, pool, checkpoint_dir=tmp_path, stop_after_epoch=2)
    return tmp_path


def _resume(directory: Path, **kw: Any) -> BiArch2Perf:
    cells, y, pool = _data()
    tr = BiArch2Perf(_tiny(**kw))
    tr.fit(cells, y, pool, checkpoint_dir=directory)
    return tr


def _manifest(d: Path) -> dict[str, Any]:
    return json.loads((d / MANIFEST_FILE).read_text())


def _file(d: Path, role: str) -> Path:
    return d / _manifest(d)["files"][role]["name"]


def _rewrite_state(d: Path, edit: Any) -> None:
    """Change the state JSON and re-sign it consistently (an attacker or a buggy tool), so
    only the schema checks stand between the edit and a silent resume."""
    man = _manifest(d)
    path = d / man["files"]["state"]["name"]
    doc = json.loads(path.read_text())
    edit(doc["state"])
    blob = json.dumps(doc).encode()
    path.write_bytes(blob)
    man["files"]["state"].update(size=len(blob), sha256=hashlib.sha256(blob).hexdigest())
    man["meta"]["epoch"] = doc["state"]["epoch"]
    man.pop("checksum")
    man["checksum"] = ckmod._digest(man)
    (d / MANIFEST_FILE).write_text(json.dumps(man))


def test_layout_is_files_plus_manifest(ckpt: Path) -> None:
    names = sorted(p.name for p in ckpt.iterdir())
    assert names[:2] == [MANIFEST_FILE, "config.json"]
    assert len(names) == 4 and all(n.startswith("state-") for n in names[2:])
    man = _manifest(ckpt)
    assert man["format_version"] == 2 and man["meta"]["epoch"] == 2
    for entry in man["files"].values():
        blob = (ckpt / entry["name"]).read_bytes()
        assert entry["size"] == len(blob)
        assert entry["sha256"] == hashlib.sha256(blob).hexdigest()


def test_flipped_bit_in_weights_is_refused(ckpt: Path) -> None:
    path = _file(ckpt, "tensors")
    data = bytearray(path.read_bytes())
    data[len(data) - 5] ^= 0x01  # inside the last tensor's data: still parses today
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256") as info:
        _resume(ckpt)
    assert path.name in str(info.value)


@pytest.mark.parametrize("epoch", [10**18, -3, 5, True, 2.0, "2"])
def test_out_of_range_epoch_is_refused(ckpt: Path, epoch: Any) -> None:
    _rewrite_state(ckpt, lambda s: s.update(epoch=epoch))
    with pytest.raises(CheckpointError, match="epoch"):
        _resume(ckpt)


def test_history_must_match_epoch(ckpt: Path) -> None:
    _rewrite_state(ckpt, lambda s: s.update(epoch=3))  # history holds 2 epochs
    with pytest.raises(CheckpointError, match="history"):
        _resume(ckpt)


def test_resume_after_crash_between_writes_equals_uninterrupted_run(
    ckpt: Path, full_run: tuple[list[float], dict[str, torch.Tensor]], monkeypatch: Any
) -> None:
    """Die after the new state files are written but before the manifest: the previous
    checkpoint is still the committed one, and resuming from it gives the full run exactly."""
    before = _manifest(ckpt)
    real = ckmod.atomic_write_bytes

    def crash_at_manifest(path: Path, data: bytes) -> None:
        if path.name == MANIFEST_FILE:
            raise KeyboardInterrupt("killed")
        real(path, data)

    monkeypatch.setattr(ckmod, "atomic_write_bytes", crash_at_manifest)
    cells, y, pool = _data()
    with pytest.raises(KeyboardInterrupt):
        BiArch2Perf(_tiny()).fit(cells, y, pool, checkpoint_dir=ckpt)  # epoch 3's save dies
    monkeypatch.undo()
    assert _manifest(ckpt) == before  # still epoch 2, its files intact
    assert len(list(ckpt.glob("state-*"))) == 4  # plus the orphaned new files
    tr = _resume(ckpt)
    losses, weights = full_run
    assert tr.history.loss_predictor == losses
    for k, v in weights.items():
        assert torch.equal(_weights(tr)[k], v), k
    assert len(list(ckpt.glob("state-*"))) == 2  # the next save cleaned up


def test_new_weights_under_old_manifest_are_refused(ckpt: Path) -> None:
    """The issue's crash (new weights on disk, old metadata) can no longer resume silently."""
    cells, y, pool = _data()
    other = tempfile.mkdtemp(dir=ckpt.parent)
    BiArch2Perf(_tiny()).fit(cells, y, pool, checkpoint_dir=other, stop_after_epoch=3)
    shutil.copyfile(_file(Path(other), "tensors"), _file(ckpt, "tensors"))
    with pytest.raises(CheckpointError, match=r"SHA-256|bytes"):
        _resume(ckpt)


def test_legacy_or_half_written_checkpoint_is_refused(tmp_path: Path) -> None:
    """A folder with state files but no manifest (format 1, or a crash before the first
    manifest) is refused with advice; it is never loaded unverified."""
    (tmp_path / "state.json").write_text('{"format": "archperf-checkpoint", "state": {}}')
    (tmp_path / "state.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"without checkpoint\.json.*resume=False"):
        _resume(tmp_path)
    cells, y, pool = _data()  # resume=False starts over and replaces it
    BiArch2Perf(_tiny(epochs=1)).fit(cells, y, pool, checkpoint_dir=tmp_path, resume=False)
    assert not (tmp_path / "state.json").exists()
    assert _manifest(tmp_path)["meta"]["epoch"] == 1


def test_restart_forgets_the_old_checkpoint_before_training(ckpt: Path, monkeypatch: Any) -> None:
    """resume=False with another config, killed before its first save: a later resume must not
    pick up the old run's state under the new config.json."""
    cells, y, pool = _data()

    def die(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Stepper, "step", die)
    with pytest.raises(KeyboardInterrupt):
        BiArch2Perf(_tiny(alpha=0.3)).fit(cells, y, pool, checkpoint_dir=ckpt, resume=False)
    monkeypatch.undo()
    assert not (ckpt / MANIFEST_FILE).exists()


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: (d / MANIFEST_FILE).unlink(), "no checkpoint|without"),
        (lambda d: (d / MANIFEST_FILE).write_text("{"), "not valid JSON"),
        (lambda d: (d / MANIFEST_FILE).write_text("[" * 100_000), "deeper than"),
        (lambda d: _file(d, "state").unlink(), "is missing"),
        (lambda d: _file(d, "tensors").write_bytes(b"short"), "bytes"),
    ],
)
def test_damaged_files_give_one_clear_error(ckpt: Path, damage: Any, match: str) -> None:
    if "no checkpoint" in match:
        for p in ckpt.glob("state-*"):
            p.rename(ckpt / "state.json")  # a stray legacy file: refused, not trained over
            break
    damage(ckpt)
    with pytest.raises(CheckpointError, match=match) as info:
        _resume(ckpt)
    assert isinstance(info.value, ArchperfError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_schema_damage_behind_valid_hashes_is_a_clear_error(ckpt: Path) -> None:
    def drop_tensor_ref(s: dict[str, Any]) -> None:
        s["predictor"]["head.0.weight"] = {"__tensor__": "nope"}

    cases = [
        (lambda s: s.pop("torch_rng"), "keys"),
        (drop_tensor_ref, "not saved"),
        (lambda s: s.update(numpy_rng='{"bit_generator": "Nope"}'), "RNG"),
        (lambda s: s["history"].update(epoch=[1, 7]), "history"),
        (lambda s: s["opt_predictor"].update(param_groups=[]), "opt_predictor"),
        (lambda s: s.update(condition='{"type": "rank", "threshold": 1}'), "condition"),
    ]
    pristine = tempfile.mkdtemp(dir=ckpt.parent)
    shutil.copytree(ckpt, pristine, dirs_exist_ok=True)
    for edit, match in cases:
        shutil.rmtree(ckpt)
        shutil.copytree(pristine, ckpt)
        _rewrite_state(ckpt, edit)
        with pytest.raises(CheckpointError, match=match):
            _resume(ckpt)


def test_nonfinite_tensors_in_a_checkpoint_are_refused(tmp_path: Path) -> None:
    save_state({"w": torch.tensor([1.0, float("nan")])}, tmp_path)
    with pytest.raises(CheckpointError, match=r"'\.w'.*NaN"):
        load_state(tmp_path)


# -- property: any single-byte corruption is detected -----------------------------------------


@pytest.fixture(scope="module")
def small_ckpt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    d = tmp_path_factory.mktemp("small")
    state = {"epoch": 3, "w": torch.arange(6.0).reshape(2, 3), "opt": {0: (1, "a", None)}}
    save_state(state, d, meta={"epoch": 3})
    return d, {p.name: p.read_bytes() for p in d.iterdir()}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_corruption_is_detected(
    small_ckpt: tuple[Path, dict[str, bytes]], data: st.DataObject
) -> None:
    d, files = small_ckpt
    name = data.draw(st.sampled_from(sorted(files)))
    original = files[name]
    pos = data.draw(st.integers(0, len(original) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != original[pos]))
    corrupted = bytearray(original)
    corrupted[pos] = new
    try:
        (d / name).write_bytes(bytes(corrupted))
        try:
            ck = ckmod.load_checkpoint(d)
        except CheckpointError as exc:
            assert name in str(exc) and "\n" not in str(exc)
            return
        # only a change the manifest's JSON does not see (e.g. whitespace) may pass, and then
        # everything loaded is identical
        assert name == MANIFEST_FILE
        assert ck.meta == {"epoch": 3}
        assert torch.equal(ck.state["w"], torch.arange(6.0).reshape(2, 3))
        assert ck.state["opt"] == {0: (1, "a", None)} and ck.state["epoch"] == 3
    finally:
        (d / name).write_bytes(original)
        os.utime(d / name)


# -- a trainer's saved model is committed by its manifest --------------------------------------


def test_interrupted_resave_of_a_trained_model_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """BiArch2Perf.save(DIR) writes manifest.json last; a component that an interrupted
    re-save replaced (new generator, old manifest) is refused, also by the CLI in one line."""
    from archperf.cli import main
    from archperf.nn.serialization import BUNDLE_FILE, ComponentFormatError, load_component

    cells, y, pool = _data()
    old, new = BiArch2Perf(_tiny(epochs=1)), BiArch2Perf(_tiny(epochs=1, seed=9))
    old.fit(cells, y, pool)
    new.fit(cells, y, pool)
    a, b = old.save(tmp_path / "a"), new.save(tmp_path / "b")
    assert json.loads((a / BUNDLE_FILE).read_text())["files"].keys() >= {
        "generator/component.json",
        "config.json",
    }
    load_component(a, expected_kind="generator")
    shutil.rmtree(a / "generator")
    shutil.copytree(b / "generator", a / "generator")  # the re-save died after the generator
    with pytest.raises(ComponentFormatError, match="not the generator recorded"):
        load_component(a, expected_kind="generator")
    with pytest.raises(ComponentFormatError, match="not the generator recorded"):
        load_component(a / "generator")
    load_component(a, expected_kind="predictor")  # untouched parts still load
    rc = main(["generate", "--space", "nb201", "-n", "2", "--model", str(a)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not the generator recorded" in err[0]


def test_undefined_heldout_correlations_survive_a_checkpoint(tmp_path: Path) -> None:
    """A held-out Kendall tau is NaN when PP predicts a constant: saving must not fail on it."""
    state = {"history": {"heldout_kendall_tau": [float("nan"), None, 0.5]}}
    save_state(state, tmp_path, meta={"lr": float("nan")})
    back = ckmod.load_checkpoint(tmp_path)
    tau = back.state["history"]["heldout_kendall_tau"]
    assert np.isnan(tau[0]) and tau[1:] == [None, 0.5]
