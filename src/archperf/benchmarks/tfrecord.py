"""TFRecord files and NAS-Bench-101 records, read and written without TensorFlow.

**Framing.** A TFRecord file is a sequence of records, each laid out as::

    uint64 length (little endian) | uint32 masked_crc32c(length bytes)
    data (length bytes)           | uint32 masked_crc32c(data)

where ``masked_crc32c(x) = ((crc >> 15) | (crc << 17)) + 0xa282ead8  (mod 2**32)`` of the
CRC-32C (Castagnoli) ``crc`` of ``x``.  :func:`iter_records` checks both checksums and raises
:class:`~archperf.errors.DataFileError` naming the file, the record number and its byte offset on
any mismatch or truncation; :class:`TFRecordWriter` writes the same framing.

**NB101 records.** Each record of the official ``nasbench_full.tfrecord`` /
``nasbench_only108.tfrecord`` is UTF-8 JSON ``[hash, epochs, adjacency, ops, metrics]``: the
official module hash, the epoch budget, the adjacency matrix as a flat string of ``N*N``
characters ``0``/``1`` (row major), the ops comma-separated, and a base64 ``nasbench.ModelMetrics``
protobuf.  The protobuf messages are built at run time from the official field numbers
(``nasbench/lib/model_metrics.proto``); fields that the official schema does not define (EC-NAS
adds energy and timestamps) are skipped.  Accuracies are fractions, exactly as stored.

``crc32c`` and ``protobuf`` are imported when first needed (extra ``archperf[nb101]``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np

from ..errors import DataFileError

__all__ = [
    "EvaluationData",
    "ModelMetrics",
    "NB101Record",
    "TFRecordWriter",
    "decode_model_metrics",
    "decode_nb101_record",
    "encode_model_metrics",
    "encode_nb101_record",
    "iter_nb101_records",
    "iter_records",
    "masked_crc32c",
    "read_records",
    "scan_nb101_finals",
    "write_nb101_records",
    "write_records",
]

_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")

PathLike = str | os.PathLike[str]


def _crc32c(data: bytes) -> int:
    try:
        import crc32c
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading TFRecord files needs the 'crc32c' package: pip install 'archperf[nb101]'"
        ) from exc
    return int(crc32c.crc32c(data))


def masked_crc32c(data: bytes) -> int:
    """The TFRecord checksum: CRC-32C of ``data``, rotated right by 15, plus ``0xa282ead8``."""
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------


def _where(path: str, index: int, offset: int) -> str:
    return f"{path}: record {index} at byte offset {offset}"


def _iter_framed(
    stream: BinaryIO, name: str, *, verify: bool = True
) -> Iterator[tuple[int, int, bytes]]:
    try:
        size: int | None = os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        size = None  # not a real file: rely on short reads
    index = 0
    offset = 0
    while True:
        header = stream.read(_HEADER.size)
        if not header:
            return
        if len(header) < _HEADER.size:
            raise DataFileError(
                f"{_where(name, index, offset)}: truncated record header "
                f"({len(header)} of {_HEADER.size} bytes of length + length CRC); "
                "the file is cut short or not a TFRecord file"
            )
        length, length_crc = _HEADER.unpack(header)
        if verify and masked_crc32c(header[:8]) != length_crc:
            raise DataFileError(
                f"{_where(name, index, offset)}: length checksum mismatch "
                "(corrupted record length, or not a TFRecord file)"
            )
        need = length + _FOOTER.size
        left = None if size is None else size - offset - _HEADER.size
        body = stream.read(need) if left is None or left >= need else stream.read(left)
        if len(body) < need:
            raise DataFileError(
                f"{_where(name, index, offset)}: truncated record: expected {length} data bytes "
                f"+ 4 CRC bytes, found only {len(body)} bytes before the end of the file"
            )
        data = body[:length]
        (data_crc,) = _FOOTER.unpack(body[length:])
        if verify and masked_crc32c(data) != data_crc:
            raise DataFileError(f"{_where(name, index, offset)}: data checksum mismatch")
        yield index, offset, data
        offset += _HEADER.size + length + _FOOTER.size
        index += 1


def iter_records(path: PathLike, *, verify: bool = True) -> Iterator[bytes]:
    """Yield the data of every record of a TFRecord file, checking both CRCs.

    Raises :class:`DataFileError` for a missing/unreadable file or a corrupted/truncated record
    (the message names the file, the record number and its byte offset).  An empty file has no
    records.  ``verify=False`` skips the checksums (truncation is still detected).
    """
    for _, _, data in _iter_indexed(path, verify=verify):
        yield data


def _iter_indexed(path: PathLike, *, verify: bool = True) -> Iterator[tuple[int, int, bytes]]:
    p = Path(path)
    try:
        stream = p.open("rb")
    except OSError as exc:
        raise DataFileError(f"cannot open TFRecord file {p}: {exc.strerror or exc}") from exc
    with stream:
        yield from _iter_framed(stream, str(p), verify=verify)


def read_records(path: PathLike, *, verify: bool = True) -> list[bytes]:
    """Every record of a TFRecord file as a list (see :func:`iter_records`)."""
    return list(iter_records(path, verify=verify))


class TFRecordWriter:
    """Writes TFRecord framing to a file; use as a context manager."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._stream: BinaryIO | None = self.path.open("wb")
        self.count = 0

    def write(self, data: bytes) -> None:
        """Append one record."""
        if self._stream is None:
            raise ValueError(f"TFRecordWriter for {self.path} is closed")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"a record must be bytes, got {type(data).__name__}")
        raw = bytes(data)
        length = struct.pack("<Q", len(raw))
        self._stream.write(length)
        self._stream.write(_FOOTER.pack(masked_crc32c(length)))
        self._stream.write(raw)
        self._stream.write(_FOOTER.pack(masked_crc32c(raw)))
        self.count += 1

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def write_records(path: PathLike, records: Iterable[bytes]) -> int:
    """Write ``records`` as a TFRecord file; returns the number written."""
    with TFRecordWriter(path) as w:
        for r in records:
            w.write(r)
        return w.count


# --------------------------------------------------------------------------------------------
# ModelMetrics protobuf (built at run time from the official field numbers)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationData:
    """One evaluation during training (``nasbench.EvaluationData``); accuracies are fractions."""

    current_epoch: float = 0.0
    training_time: float = 0.0
    train_accuracy: float = 0.0
    validation_accuracy: float = 0.0
    test_accuracy: float = 0.0
    checkpoint_path: str = ""


@dataclass(frozen=True)
class ModelMetrics:
    """``nasbench.ModelMetrics``: evaluations (start, halfway, end of training), params, time."""

    evaluation_data: tuple[EvaluationData, ...] = ()
    trainable_parameters: int = 0
    total_time: float = 0.0

    @property
    def final(self) -> EvaluationData:
        """The end-of-training evaluation (``evaluation_data[2]`` in the official files)."""
        if len(self.evaluation_data) < 3:
            raise ValueError(
                f"ModelMetrics has {len(self.evaluation_data)} evaluations; the NB101 layout "
                "has 3 (start, halfway, final)"
            )
        return self.evaluation_data[2]


_EVAL_FIELDS: tuple[tuple[str, int, str], ...] = (
    ("current_epoch", 1, "double"),
    ("training_time", 2, "double"),
    ("train_accuracy", 3, "double"),
    ("validation_accuracy", 4, "double"),
    ("test_accuracy", 5, "double"),
    ("checkpoint_path", 6, "string"),
)

_message_classes: tuple[Any, Any] | None = None


def _messages() -> tuple[Any, Any]:
    """The (ModelMetrics, EvaluationData) protobuf classes, built once in a private pool."""
    global _message_classes
    if _message_classes is not None:
        return _message_classes
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "decoding NB101 records needs 'protobuf': pip install 'archperf[nb101]'"
        ) from exc
    fdp = descriptor_pb2.FieldDescriptorProto
    types = {"double": fdp.TYPE_DOUBLE, "string": fdp.TYPE_STRING, "int32": fdp.TYPE_INT32}
    f = descriptor_pb2.FileDescriptorProto(
        name="archperf_nasbench_model_metrics.proto", package="nasbench", syntax="proto2"
    )
    ev = f.message_type.add(name="EvaluationData")
    for name, number, typ in _EVAL_FIELDS:
        ev.field.add(name=name, number=number, type=types[typ], label=fdp.LABEL_OPTIONAL)
    mm = f.message_type.add(name="ModelMetrics")
    mm.field.add(
        name="evaluation_data",
        number=1,
        type=fdp.TYPE_MESSAGE,
        type_name=".nasbench.EvaluationData",
        label=fdp.LABEL_REPEATED,
    )
    mm.field.add(
        name="trainable_parameters", number=2, type=fdp.TYPE_INT32, label=fdp.LABEL_OPTIONAL
    )
    mm.field.add(name="total_time", number=3, type=fdp.TYPE_DOUBLE, label=fdp.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    get_class = getattr(message_factory, "GetMessageClass", None)
    if get_class is not None:
        mm_cls = get_class(pool.FindMessageTypeByName("nasbench.ModelMetrics"))
        ev_cls = get_class(pool.FindMessageTypeByName("nasbench.EvaluationData"))
    else:  # pragma: no cover - protobuf < 4.22
        factory = message_factory.MessageFactory(pool)
        mm_cls = factory.GetPrototype(pool.FindMessageTypeByName("nasbench.ModelMetrics"))
        ev_cls = factory.GetPrototype(pool.FindMessageTypeByName("nasbench.EvaluationData"))
    _message_classes = (mm_cls, ev_cls)
    return _message_classes


def decode_model_metrics(raw: bytes) -> ModelMetrics:
    """Parse a serialized ``ModelMetrics``; unknown fields are skipped.

    Raises ``ValueError`` on bytes that are not a valid message.
    """
    from google.protobuf.message import DecodeError

    mm_cls, _ = _messages()
    msg = mm_cls()
    try:
        msg.ParseFromString(raw)
    except DecodeError as exc:
        raise ValueError(f"not a valid ModelMetrics protobuf: {exc}") from exc
    evals = tuple(
        EvaluationData(
            current_epoch=e.current_epoch,
            training_time=e.training_time,
            train_accuracy=e.train_accuracy,
            validation_accuracy=e.validation_accuracy,
            test_accuracy=e.test_accuracy,
            checkpoint_path=e.checkpoint_path,
        )
        for e in msg.evaluation_data
    )
    return ModelMetrics(evals, int(msg.trainable_parameters), float(msg.total_time))


def encode_model_metrics(metrics: ModelMetrics) -> bytes:
    """Serialize a :class:`ModelMetrics` with the official field numbers."""
    mm_cls, _ = _messages()
    msg = mm_cls(trainable_parameters=metrics.trainable_parameters, total_time=metrics.total_time)
    for e in metrics.evaluation_data:
        msg.evaluation_data.add(
            current_epoch=e.current_epoch,
            training_time=e.training_time,
            train_accuracy=e.train_accuracy,
            validation_accuracy=e.validation_accuracy,
            test_accuracy=e.test_accuracy,
            checkpoint_path=e.checkpoint_path,
        )
    return bytes(msg.SerializeToString(deterministic=True))


# --------------------------------------------------------------------------------------------
# NB101 records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NB101Record:
    """One NB101 training run: the cell as stored (pruned), its epoch budget and its metrics."""

    hash: str
    epochs: int
    adjacency: np.ndarray = field(compare=False)
    ops: tuple[str, ...]
    metrics: ModelMetrics

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NB101Record):
            return NotImplemented
        return (
            self.hash == other.hash
            and self.epochs == other.epochs
            and self.ops == other.ops
            and self.metrics == other.metrics
            and self.adjacency.shape == other.adjacency.shape
            and bool(np.array_equal(self.adjacency, other.adjacency))
        )

    __hash__ = None  # type: ignore[assignment]


def _parse_nb101_row(data: bytes, where: str) -> tuple[str, int, str, int, tuple[str, ...], bytes]:
    """Check one record's JSON layout; returns (hash, epochs, bits, n, ops, metrics bytes)."""

    def bad(msg: str) -> DataFileError:
        return DataFileError(f"{where}: not an NB101 record ({msg})")

    try:
        row = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"invalid JSON: {exc}") from exc
    if not isinstance(row, list) or len(row) != 5:
        raise bad("expected a JSON list [hash, epochs, adjacency, ops, metrics]")
    module_hash, epochs, raw_adj, raw_ops, raw_metrics = row
    if not isinstance(module_hash, str) or not module_hash:
        raise bad(f"hash must be a non-empty string, got {module_hash!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
        raise bad(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(raw_adj, str) or not raw_adj or raw_adj.strip("01"):
        raise bad("adjacency must be a non-empty string of 0/1 characters")
    n = round(len(raw_adj) ** 0.5)
    if n * n != len(raw_adj):
        raise bad(f"adjacency has {len(raw_adj)} bits, not N*N for any N")
    if not isinstance(raw_ops, str):
        raise bad(f"ops must be a comma-separated string, got {type(raw_ops).__name__}")
    ops = tuple(raw_ops.split(","))
    if len(ops) != n or not all(ops):
        raise bad(f"{len(ops)} ops {raw_ops!r} for a {n}x{n} adjacency")
    if not isinstance(raw_metrics, str):
        raise bad("metrics must be a base64 string")
    try:
        # base64 with line breaks (as in the official files) but nothing else outside the alphabet
        raw = base64.b64decode(raw_metrics.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad(f"metrics: {exc}") from exc
    return module_hash, int(epochs), raw_adj, n, ops, raw


def decode_nb101_record(data: bytes, where: str = "NB101 record") -> NB101Record:
    """Decode one record's JSON ``[hash, epochs, adjacency bits, ops, base64 metrics]``.

    Raises :class:`DataFileError` (message prefixed by ``where``) when it is not that layout.
    """
    module_hash, epochs, raw_adj, n, ops, raw = _parse_nb101_row(data, where)
    try:
        metrics = decode_model_metrics(raw)
    except ValueError as exc:
        raise DataFileError(f"{where}: not an NB101 record (metrics: {exc})") from exc
    adj = (np.frombuffer(raw_adj.encode("ascii"), dtype=np.uint8) - ord("0")).reshape(n, n)
    adj.setflags(write=False)
    return NB101Record(module_hash, epochs, adj, ops, metrics)


def scan_nb101_finals(
    path: PathLike, *, verify: bool = True
) -> Iterator[tuple[str, int, str, str, int, float, float]]:
    """Fast bulk reader: per record ``(hash, epochs, adjacency bits, ops, params, final
    validation accuracy, final test accuracy)`` (fractions; final = ``evaluation_data[2]``)."""
    from google.protobuf.message import DecodeError

    mm_cls, _ = _messages()
    name = str(path)
    for index, offset, data in _iter_indexed(path, verify=verify):
        where = _where(name, index, offset)
        module_hash, epochs, bits, _, ops, raw = _parse_nb101_row(data, where)
        try:
            msg = mm_cls.FromString(raw)
        except DecodeError as exc:
            raise DataFileError(f"{where}: not an NB101 record (metrics: {exc})") from exc
        evals = msg.evaluation_data
        if len(evals) < 3:
            raise DataFileError(
                f"{where}: {len(evals)} evaluations, expected 3 (start, halfway, final)"
            )
        final = evals[2]
        yield (
            module_hash,
            epochs,
            bits,
            ",".join(ops),
            int(msg.trainable_parameters),
            float(final.validation_accuracy),
            float(final.test_accuracy),
        )


def encode_nb101_record(record: NB101Record) -> bytes:
    """The JSON bytes of a record, in the official layout (inverse of decode)."""
    adj = np.asarray(record.adjacency)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1] or adj.shape[0] != len(record.ops):
        raise ValueError(f"adjacency of shape {adj.shape} does not match {len(record.ops)} ops")
    if adj.size and (adj.min() < 0 or adj.max() > 1):
        raise ValueError("adjacency entries must be 0 or 1")
    bits = "".join("1" if v else "0" for v in adj.reshape(-1).tolist())
    if any("," in o or not o for o in record.ops):
        raise ValueError(f"op names must be non-empty and contain no comma: {record.ops}")
    raw = base64.b64encode(encode_model_metrics(record.metrics)).decode("ascii")
    row = [record.hash, int(record.epochs), bits, ",".join(record.ops), raw]
    return json.dumps(row).encode("utf-8")


def iter_nb101_records(path: PathLike, *, verify: bool = True) -> Iterator[NB101Record]:
    """Decode every record of an NB101 TFRecord file (official or EC-NAS layout)."""
    name = str(path)
    for index, offset, data in _iter_indexed(path, verify=verify):
        yield decode_nb101_record(data, _where(name, index, offset))


def write_nb101_records(path: PathLike, records: Sequence[NB101Record]) -> int:
    """Write records as an NB101 TFRecord file; returns the number written."""
    return write_records(path, (encode_nb101_record(r) for r in records))
