"""TFRecord framing and NB101 records: the real EC-NAS sample, round trips, corruption."""

from __future__ import annotations

import base64
import json
import re
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archperf.benchmarks import tfrecord as tfr
from archperf.errors import DataFileError
from conftest import require_file

pytest.importorskip("crc32c")
pytest.importorskip("google.protobuf")

SAMPLE = "nb101/ecnas_4V9E_sample.tfrecord"
NB101_OPS = {"input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output"}


@pytest.fixture(scope="module")
def sample(data_dir: Path) -> Path:
    return require_file(data_dir, SAMPLE)


# ------------------------------------------------------------------------------------------
# The real EC-NAS sample (official NB101 layout; its accuracies are EC-NAS's own retraining)
# ------------------------------------------------------------------------------------------


def test_sample_every_record(sample: Path) -> None:
    recs = list(tfr.iter_nb101_records(sample))
    assert len(recs) == 91 * 4 * 3
    by_hash: dict[str, list[tfr.NB101Record]] = {}
    for r in recs:
        by_hash.setdefault(r.hash, []).append(r)
    assert len(by_hash) == 91
    for h, rs in by_hash.items():
        assert re.fullmatch(r"[0-9a-f]{32}", h)
        assert Counter(r.epochs for r in rs) == {4: 3, 12: 3, 36: 3, 108: 3}
        # one cell per hash, one parameter count per cell
        assert len({(r.adjacency.tobytes(), r.ops) for r in rs}) == 1
        assert len({r.metrics.trainable_parameters for r in rs}) == 1
    # all NB101 cells with at most 4 vertices: 1 / 6 / 84 of 2 / 3 / 4 vertices (NB101 paper)
    sizes = Counter(rs[0].adjacency.shape[0] for rs in by_hash.values())
    assert sizes == {2: 1, 3: 6, 4: 84}
    for r in recs:
        n = len(r.ops)
        assert r.adjacency.shape == (n, n)
        assert np.array_equal(r.adjacency, np.triu(r.adjacency, 1))
        assert r.ops[0] == "input" and r.ops[-1] == "output"
        assert set(r.ops) <= NB101_OPS
        assert r.metrics.trainable_parameters > 0
        assert len(r.metrics.evaluation_data) == 3
        assert r.metrics.final.current_epoch == r.epochs
        for e in r.metrics.evaluation_data:
            for acc in (e.train_accuracy, e.validation_accuracy, e.test_accuracy):
                assert 0.0 <= acc <= 1.0


def test_sample_first_record_fields(sample: Path) -> None:
    first = next(tfr.iter_nb101_records(sample))
    assert first.hash == "5529e1779433733d1145e20de5d8604e"
    assert first.epochs == 36
    assert first.ops == ("input", "conv1x1-bn-relu", "conv3x3-bn-relu", "output")
    assert first.adjacency.tolist() == [[0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert first.metrics.trainable_parameters == 3468426
    assert first.metrics.final.validation_accuracy == pytest.approx(0.9174679517745972)


def test_sample_unknown_fields_are_skipped(sample: Path) -> None:
    """EC-NAS adds energy/timestamp fields: decoding keeps the official ones only."""
    raw = tfr.read_records(sample)[0]
    metrics_bytes = base64.b64decode(json.loads(raw)[4])
    decoded = tfr.decode_model_metrics(metrics_bytes)
    reencoded = tfr.encode_model_metrics(decoded)
    assert len(reencoded) < len(metrics_bytes)  # the extra fields were there
    assert tfr.decode_model_metrics(reencoded) == decoded


def test_sample_framing_round_trip_is_byte_identical(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.tfrecord"
    n = tfr.write_records(out, tfr.iter_records(sample))
    assert n == 1092
    assert out.read_bytes() == sample.read_bytes()


def test_sample_record_round_trip(sample: Path, tmp_path: Path) -> None:
    recs = list(tfr.iter_nb101_records(sample))
    out = tmp_path / "nb101.tfrecord"
    assert tfr.write_nb101_records(out, recs) == len(recs)
    assert list(tfr.iter_nb101_records(out)) == recs


# ------------------------------------------------------------------------------------------
# Framing: round trips and corruption on files written here
# ------------------------------------------------------------------------------------------


def test_masked_crc_known_values() -> None:
    # CRC-32C("123456789") = 0xE3069283 (the standard check value); masking by the TFRecord rule.
    crc = 0xE3069283
    expected = ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert tfr.masked_crc32c(b"123456789") == expected
    assert tfr.masked_crc32c(b"") == 0xA282EAD8  # CRC-32C of nothing is 0


records_st = st.lists(st.binary(min_size=0, max_size=64), min_size=0, max_size=8)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=records_st)
def test_framing_round_trip(records: list[bytes], tmp_path: Path) -> None:
    p = tmp_path / "rt.tfrecord"
    assert tfr.write_records(p, records) == len(records)
    assert tfr.read_records(p) == records
    assert p.stat().st_size == sum(16 + len(r) for r in records)


def _offsets(records: list[bytes]) -> list[int]:
    out, pos = [], 0
    for r in records:
        out.append(pos)
        pos += 16 + len(r)
    return out


FIXED = [b"alpha", b"", b"a somewhat longer third record", b"\x00\xff" * 20]


def _write_fixed(tmp_path: Path) -> tuple[Path, bytes, list[int]]:
    p = tmp_path / "fixed.tfrecord"
    tfr.write_records(p, FIXED)
    return p, p.read_bytes(), _offsets(FIXED)


def _error_for(path: Path) -> DataFileError:
    with pytest.raises(DataFileError) as info:
        tfr.read_records(path)
    return info.value


@pytest.mark.parametrize(
    ("part", "delta"),
    [("length", 3), ("length-crc", 10), ("data", 14), ("data-crc", -2)],
)
@pytest.mark.parametrize("rec", [0, 2, 3])
def test_truncated_is_detected(tmp_path: Path, part: str, delta: int, rec: int) -> None:
    p, raw, offs = _write_fixed(tmp_path)
    end = offs[rec] + 16 + len(FIXED[rec])
    cut = end + delta if delta < 0 else offs[rec] + delta
    p.write_bytes(raw[:cut])
    msg = str(_error_for(p))
    assert str(p) in msg
    assert f"record {rec} at byte offset {offs[rec]}" in msg
    assert "truncated" in msg


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_bit_flip_is_detected(tmp_path: Path, data: st.DataObject) -> None:
    p, raw, offs = _write_fixed(tmp_path)
    pos = data.draw(st.integers(0, len(raw) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    bad = bytearray(raw)
    bad[pos] ^= 1 << bit
    p.write_bytes(bytes(bad))
    rec = max(i for i, o in enumerate(offs) if o <= pos)
    msg = str(_error_for(p))
    assert f"record {rec} at byte offset {offs[rec]}" in msg
    rel = pos - offs[rec]
    if rel < 12:
        assert "length checksum" in msg
    else:
        assert "data checksum" in msg


@pytest.mark.parametrize(("where", "rel"), [("length", 0), ("data", 12), ("data-crc", -1)])
def test_flip_in_each_part_names_the_offset(tmp_path: Path, where: str, rel: int) -> None:
    p, raw, offs = _write_fixed(tmp_path)
    rec = 2
    pos = offs[rec] + rel if rel >= 0 else offs[rec] + 16 + len(FIXED[rec]) + rel
    bad = bytearray(raw)
    bad[pos] ^= 0x10
    p.write_bytes(bytes(bad))
    msg = str(_error_for(p))
    assert f"{p}: record 2 at byte offset {offs[2]}" in msg
    assert ("length" if where == "length" else "data") + " checksum mismatch" in msg


def test_verify_false_still_detects_truncation(tmp_path: Path) -> None:
    p, raw, _ = _write_fixed(tmp_path)
    p.write_bytes(raw[:-1])
    with pytest.raises(DataFileError, match="truncated"):
        tfr.read_records(p, verify=False)


def test_huge_corrupt_length_without_verify_is_truncation(tmp_path: Path) -> None:
    p = tmp_path / "huge.tfrecord"
    p.write_bytes(struct.pack("<QI", 2**60, 0) + b"xyz")
    with pytest.raises(DataFileError, match="record 0 at byte offset 0: truncated"):
        tfr.read_records(p, verify=False)


def test_empty_file_has_no_records(tmp_path: Path) -> None:
    p = tmp_path / "empty.tfrecord"
    p.write_bytes(b"")
    assert tfr.read_records(p) == []
    assert list(tfr.iter_nb101_records(p)) == []


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="cannot open TFRecord file"):
        tfr.read_records(tmp_path / "nope.tfrecord")


def test_not_a_tfrecord_file(tmp_path: Path) -> None:
    p = tmp_path / "text.tfrecord"
    p.write_text("hash,epochs\nabc,108\n")
    with pytest.raises(DataFileError, match="record 0 at byte offset 0"):
        tfr.read_records(p)


def test_writer_rejects_non_bytes_and_closed(tmp_path: Path) -> None:
    w = tfr.TFRecordWriter(tmp_path / "w.tfrecord")
    with pytest.raises(TypeError):
        w.write("text")  # type: ignore[arg-type]
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write(b"x")


# ------------------------------------------------------------------------------------------
# NB101 record layer
# ------------------------------------------------------------------------------------------

prob = st.floats(0.0, 1.0, allow_nan=False)
evaluation_st = st.builds(
    tfr.EvaluationData,
    current_epoch=st.floats(0, 108, allow_nan=False),
    training_time=st.floats(0, 1e5, allow_nan=False),
    train_accuracy=prob,
    validation_accuracy=prob,
    test_accuracy=prob,
    checkpoint_path=st.text(max_size=10),
)


@st.composite
def nb101_records(draw: st.DrawFn) -> tfr.NB101Record:
    n = draw(st.integers(2, 7))
    bits = draw(st.lists(st.integers(0, 1), min_size=n * n, max_size=n * n))
    adj = np.triu(np.array(bits, dtype=np.uint8).reshape(n, n), 1)
    interior = draw(
        st.lists(
            st.sampled_from(["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]),
            min_size=n - 2,
            max_size=n - 2,
        )
    )
    metrics = tfr.ModelMetrics(
        tuple(draw(st.lists(evaluation_st, min_size=0, max_size=3))),
        draw(st.integers(0, 2**31 - 1)),
        draw(st.floats(0, 1e6, allow_nan=False)),
    )
    return tfr.NB101Record(
        draw(st.text("0123456789abcdef", min_size=32, max_size=32)),
        draw(st.sampled_from([4, 12, 36, 108])),
        adj,
        ("input", *interior, "output"),
        metrics,
    )


@settings(max_examples=60, deadline=None)
@given(rec=nb101_records())
def test_nb101_record_round_trip(rec: tfr.NB101Record) -> None:
    assert tfr.decode_nb101_record(tfr.encode_nb101_record(rec)) == rec


def _good_row() -> list[object]:
    metrics = tfr.encode_model_metrics(tfr.ModelMetrics((tfr.EvaluationData(),) * 3, 10, 1.0))
    return ["0" * 32, 108, "0100", "input,output", base64.b64encode(metrics).decode()]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: b"\xff\xfe not utf8", "invalid JSON"),
        (lambda r: b"[1, 2,", "invalid JSON"),
        (lambda r: json.dumps({"hash": "x"}).encode(), "expected a JSON list"),
        (lambda r: json.dumps(r[:4]).encode(), "expected a JSON list"),
        (lambda r: json.dumps([7, *r[1:]]).encode(), "hash must be"),
        (lambda r: json.dumps([r[0], "108", *r[2:]]).encode(), "epochs must be"),
        (lambda r: json.dumps([*r[:2], "01002", *r[3:]]).encode(), "0/1 characters"),
        (lambda r: json.dumps([*r[:2], "010", *r[3:]]).encode(), "not N*N"),
        (lambda r: json.dumps([*r[:3], "input", r[4]]).encode(), "1 ops"),
        (lambda r: json.dumps([*r[:4], "@@@"]).encode(), "metrics"),
        (
            lambda r: json.dumps([*r[:4], base64.b64encode(b"\x0a\xff").decode()]).encode(),
            "metrics",
        ),
    ],
)
def test_wrong_json_is_rejected(mutate: object, needle: str, tmp_path: Path) -> None:
    good = tfr.encode_nb101_record(tfr.decode_nb101_record(json.dumps(_good_row()).encode()))
    bad = mutate(_good_row())  # type: ignore[operator]
    p = tmp_path / "bad.tfrecord"
    tfr.write_records(p, [good, bad])
    with pytest.raises(DataFileError) as info:
        list(tfr.iter_nb101_records(p))
    msg = str(info.value)
    assert f"{p}: record 1 at byte offset {16 + len(good)}" in msg
    assert "not an NB101 record" in msg and needle in msg


def test_final_needs_three_evaluations() -> None:
    with pytest.raises(ValueError, match="3"):
        _ = tfr.ModelMetrics((tfr.EvaluationData(),)).final


def test_encode_rejects_bad_shapes() -> None:
    rec = tfr.decode_nb101_record(json.dumps(_good_row()).encode())
    with pytest.raises(ValueError, match="does not match"):
        tfr.encode_nb101_record(
            tfr.NB101Record(rec.hash, 108, np.zeros((3, 3)), rec.ops, rec.metrics)
        )
    with pytest.raises(ValueError, match="comma"):
        tfr.encode_nb101_record(
            tfr.NB101Record(rec.hash, 108, rec.adjacency, ("in,put", "output"), rec.metrics)
        )
