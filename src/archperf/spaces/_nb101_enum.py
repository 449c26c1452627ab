"""NAS-Bench-101 machinery behind :mod:`archperf.spaces.nb101`: the official graph hash, the
enumeration of all 423,624 unique cells, and its on-disk cache.

Cells are stored compactly: vertex count ``n``, the upper-triangle bits of the ``n x n`` matrix
(bit ``k`` is the ``k``-th pair ``(i, j)``, ``i < j``, in row-major order), the interior op ids
packed two bits per vertex (vertex ``1 + t`` at bits ``2t, 2t+1``) and the 16-byte hash.
Everything here is numpy + hashlib only.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "COUNTS_BY_VERTICES",
    "FORMAT_VERSION",
    "MAX_EDGES",
    "MAX_VERTICES",
    "NUM_CELLS",
    "CacheError",
    "Enumeration",
    "cache_path",
    "decode_adjacency",
    "decode_ops",
    "enumerate_space",
    "hash_cells",
    "load",
    "load_or_build",
    "nb101_hash",
    "pair_index",
    "save",
]

MAX_VERTICES = 7
MAX_EDGES = 9
NUM_INTERIOR_OPS = 3  # op ids 1, 2, 3 (conv3x3, conv1x1, maxpool)
NUM_CELLS = 423_624
COUNTS_BY_VERTICES: dict[int, int] = {2: 1, 3: 6, 4: 84, 5: 2_441, 6: 62_010, 7: 359_082}
FORMAT_VERSION = 1
_md5 = hashlib.md5


def pair_index(n: int) -> list[tuple[int, int]]:
    """The upper-triangle positions ``(i, j)``, ``i < j``, of an ``n x n`` matrix, row-major."""
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


# --------------------------------------------------------------------------------------------
# The official NB101 graph hash
# --------------------------------------------------------------------------------------------


def nb101_hash(matrix: np.ndarray | Sequence[Sequence[int]], labels: Sequence[int]) -> str:
    """The official NB101 module hash of a (pruned) spec.

    ``labels`` are -1 (input), -2 (output), 0 (conv3x3), 1 (conv1x1), 2 (maxpool).  Each vertex
    starts as md5 of ``str((out_degree, in_degree, label))``; each of ``n`` rounds replaces it by
    md5 of its in-neighbours' sorted hashes, ``|``, its out-neighbours' sorted hashes, ``|``, its
    own hash; the result is md5 of ``str(sorted(vertex_hashes))``.
    """
    m = np.asarray(matrix).tolist()
    n = len(labels)
    ins = [[w for w in range(n) if m[w][v]] for v in range(n)]
    outs = [[w for w in range(n) if m[v][w]] for v in range(n)]
    h = [
        _md5(f"({len(outs[v])}, {len(ins[v])}, {int(labels[v])})".encode()).hexdigest()
        for v in range(n)
    ]
    for _ in range(n):
        h = [
            _md5(
                (
                    "".join(sorted([h[w] for w in ins[v]]))
                    + "|"
                    + "".join(sorted([h[w] for w in outs[v]]))
                    + "|"
                    + h[v]
                ).encode()
            ).hexdigest()
            for v in range(n)
        ]
    return _md5(str(sorted(h)).encode()).hexdigest()


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_BAR = np.frombuffer(b"|", dtype=np.uint8)


def hash_cells(adj: np.ndarray, labels: np.ndarray, chunk: int = 50_000) -> np.ndarray:
    """Official hashes of ``K`` cells with the same vertex count, as ``uint8 [K, 16]``.

    ``adj`` is bool ``[K, n, n]``, ``labels`` int ``[K, n]`` (as in :func:`nb101_hash`).  Same
    result as :func:`nb101_hash` per cell, but vectorised over cells: a vertex hash is kept as
    its rank among the round's digests (sorting ranks sorts the hex strings), and the md5 inputs
    are assembled as byte arrays, one fixed width per (in-degree, out-degree) group.
    """
    adj = np.asarray(adj, dtype=bool)
    labels = np.asarray(labels, dtype=np.int64)
    k, n = labels.shape
    if adj.shape != (k, n, n):
        raise ValueError(f"adj must have shape {(k, n, n)}, got {adj.shape}")
    if k > chunk:
        return np.concatenate(
            [hash_cells(adj[s : s + chunk], labels[s : s + chunk]) for s in range(0, k, chunk)]
        )
    if k == 0:
        return np.zeros((0, 16), dtype=np.uint8)
    n_out = adj.sum(axis=2).reshape(-1)
    n_in = adj.sum(axis=1).reshape(-1)
    # Round 0: md5 of str((out_degree, in_degree, label)); few distinct values.
    init = np.stack([n_out, n_in, labels.reshape(-1)], axis=1)
    uniq, inv = np.unique(init, axis=0, return_inverse=True)
    raw = b"".join([_md5(f"({o}, {i}, {lab})".encode()).digest() for o, i, lab in uniq.tolist()])
    digests = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 16)[inv.reshape(-1)]
    state, hexes = _rank_digests(digests)
    groups = _degree_groups(adj, n_in, n_out)
    for _ in range(n):
        digests = np.empty((k * n, 16), dtype=np.uint8)
        for rows, in_idx, out_idx in groups:
            m = len(rows)
            parts = [
                hexes[np.sort(state[in_idx], axis=1)].reshape(m, -1),
                np.broadcast_to(_BAR, (m, 1)),
                hexes[np.sort(state[out_idx], axis=1)].reshape(m, -1),
                np.broadcast_to(_BAR, (m, 1)),
                hexes[state[rows]],
            ]
            digests[rows] = _md5_rows(np.concatenate(parts, axis=1))
        state, hexes = _rank_digests(digests)
    # Fingerprint: md5 of str(sorted(hashes)), i.e. "['h1', 'h2', ...]".
    tokens = hexes[np.sort(state.reshape(k, n), axis=1)]  # [k, n, 32]
    pieces: list[np.ndarray] = [_bytes(b"['"), tokens[:, 0], _bytes(b"'")]
    for v in range(1, n):
        pieces += [_bytes(b", '"), tokens[:, v], _bytes(b"'")]
    pieces.append(_bytes(b"]"))
    msgs = np.concatenate([np.broadcast_to(p, (k, p.shape[-1])) for p in pieces], axis=1)
    return _md5_rows(msgs)


def _bytes(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.uint8)


def _degree_groups(
    adj: np.ndarray, n_in: np.ndarray, n_out: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Vertices grouped by (in-degree, out-degree): flat vertex ids and their neighbours' ids."""
    k, n, _ = adj.shape
    flat_t = np.swapaxes(adj, 1, 2).reshape(k * n, n)  # row (c, v): in-neighbours of v
    flat = adj.reshape(k * n, n)  # row (c, v): out-neighbours of v
    key = n_in * (n + 1) + n_out
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    out = []
    for rows in np.split(order, bounds):
        base = (rows // n * n)[:, None]
        ci, co = int(n_in[rows[0]]), int(n_out[rows[0]])
        in_idx = base + np.nonzero(flat_t[rows])[1].reshape(len(rows), ci)
        out_idx = base + np.nonzero(flat[rows])[1].reshape(len(rows), co)
        out.append((rows, in_idx, out_idx))
    return out


def _md5_rows(msgs: np.ndarray) -> np.ndarray:
    """md5 digests ``uint8 [R, 16]`` of the rows of a ``uint8 [R, L]`` array."""
    r, length = msgs.shape
    if r == 0:
        return np.zeros((0, 16), dtype=np.uint8)
    items = np.ascontiguousarray(msgs).view(f"S{length}").ravel().tolist()
    raw = b"".join([_md5(m).digest() for m in items])
    return np.frombuffer(raw, dtype=np.uint8).reshape(r, 16)


def _rank_digests(digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of digests ``uint8 [V, 16]`` in sorted order, and the sorted hex ``uint8 [V, 32]``.

    Byte order equals hex order, so ranks compare like the hex strings that the hash sorts; equal
    digests get distinct but adjacent ranks, which sorts the same strings.
    """
    words = np.ascontiguousarray(digests).view(">u8")
    order = np.argsort(words[:, 0], kind="stable")
    hi = words[order, 0]
    ties = hi[1:] == hi[:-1]
    if np.any(ties & np.any(digests[order[1:]] != digests[order[:-1]], axis=1)):
        order = np.lexsort((words[:, 1], words[:, 0]))  # distinct digests sharing 8 bytes
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    d = digests[order]
    hexes = np.empty((len(order), 32), dtype=np.uint8)
    hexes[:, 0::2] = _HEX_DIGITS[d >> 4]
    hexes[:, 1::2] = _HEX_DIGITS[d & 15]
    return rank, hexes


# --------------------------------------------------------------------------------------------
# Enumeration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enumeration:
    """Every unique NB101 cell, sorted by hash (row ``i`` is cell index ``i``).

    ``num_vertices`` ``uint8 [N]``, ``adj_bits`` ``uint32 [N]`` (upper-triangle bits),
    ``op_bits`` ``uint16 [N]`` (interior op ids, two bits each), ``hashes`` ``uint8 [N, 16]``.
    """

    num_vertices: np.ndarray
    adj_bits: np.ndarray
    op_bits: np.ndarray
    hashes: np.ndarray

    def __len__(self) -> int:
        return int(self.num_vertices.shape[0])

    @property
    def nbytes(self) -> int:
        return int(
            self.num_vertices.nbytes
            + self.adj_bits.nbytes
            + self.op_bits.nbytes
            + self.hashes.nbytes
        )

    def hash_keys(self) -> np.ndarray:
        """The hashes as a sorted ``S16`` array (a view) for ``np.searchsorted``."""
        return self.hashes.view("S16").ravel()

    def checksum(self) -> str:
        h = hashlib.sha256(np.int64(FORMAT_VERSION).tobytes())
        for a in (self.num_vertices, self.adj_bits, self.op_bits, self.hashes):
            h.update(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())
        return h.hexdigest()


def _connected_codes(n: int, max_edges: int) -> np.ndarray:
    """Upper-triangle codes of ``n``-vertex DAGs with ``<= max_edges`` edges whose every vertex
    lies on an input -> output path."""
    pairs = pair_index(n)
    m = len(pairs)
    codes = np.arange(1 << m, dtype=np.uint32)
    bits = ((codes[:, None] >> np.arange(m, dtype=np.uint32)) & 1).astype(bool)
    keep = bits.sum(axis=1) <= max_edges
    codes, bits = codes[keep], bits[keep]
    col = {p: t for t, p in enumerate(pairs)}
    fwd = np.zeros((len(codes), n), dtype=bool)
    fwd[:, 0] = True
    for j in range(1, n):
        for i in range(j):
            fwd[:, j] |= fwd[:, i] & bits[:, col[(i, j)]]
    bwd = np.zeros((len(codes), n), dtype=bool)
    bwd[:, n - 1] = True
    for i in range(n - 2, -1, -1):
        for j in range(i + 1, n):
            bwd[:, i] |= bwd[:, j] & bits[:, col[(i, j)]]
    ok = (fwd & bwd).all(axis=1)
    return codes[ok]


def _enumerate_n(n: int, max_edges: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique (up to isomorphism) ``n``-vertex cells as (adjacency codes, op codes)."""
    pairs = pair_index(n)
    codes = _connected_codes(n, max_edges)
    if n == 2:
        return codes, np.zeros(len(codes), dtype=np.uint16)
    interior = list(range(1, n - 1))
    perms = [np.array([0, *p, n - 1]) for p in itertools.permutations(interior)]
    # Weight of pair (i, j) under a permutation: 2 ** (p[i] * n + p[j]) (< 2**53: exact floats).
    weights = np.array(
        [[float(2 ** (int(p[i]) * n + int(p[j]))) for p in perms] for i, j in pairs]
    )  # [m, P]; perms[0] is the identity
    bit_mat = ((codes[:, None] >> np.arange(len(pairs), dtype=np.uint32)) & 1).astype(np.float64)
    canon = np.empty(len(codes), dtype=np.float64)
    step = 20_000
    for s in range(0, len(codes), step):
        canon[s : s + step] = (bit_mat[s : s + step] @ weights).max(axis=1)
    _, reps = np.unique(canon, return_index=True)
    # Labelings of the interior (ids 1..3) and their orbits under each graph's automorphisms.
    k = n - 2
    labelings = np.array(list(itertools.product(range(1, 4), repeat=k)), dtype=np.int64)
    pow3 = 3 ** np.arange(k)[::-1]
    orbit_cache: dict[tuple[int, ...], np.ndarray] = {}
    adj_out: list[np.ndarray] = []
    ops_out: list[np.ndarray] = []
    shift = 2 * np.arange(k, dtype=np.int64)
    op_codes_all = (labelings << shift).sum(axis=1).astype(np.uint16)
    for r in reps.tolist():
        row = bit_mat[r] @ weights
        auts = tuple(np.flatnonzero(row == row[0]).tolist())
        keep = orbit_cache.get(auts)
        if keep is None:
            interior_perms = np.stack([perms[a][1:-1] - 1 for a in auts])  # [A, k]
            permuted = labelings[:, interior_perms]  # [L, A, k]
            canon_lab = ((permuted - 1) * pow3).sum(axis=2).min(axis=1)
            _, keep = np.unique(canon_lab, return_index=True)
            orbit_cache[auts] = keep
        adj_out.append(np.full(len(keep), codes[r], dtype=np.uint32))
        ops_out.append(op_codes_all[keep])
    return np.concatenate(adj_out), np.concatenate(ops_out)


def decode_adjacency(n: int, adj_bits: np.ndarray) -> np.ndarray:
    """Bool ``[K, n, n]`` adjacency from upper-triangle codes of ``n``-vertex cells."""
    codes = np.asarray(adj_bits, dtype=np.uint32)
    out = np.zeros((len(codes), n, n), dtype=bool)
    for t, (i, j) in enumerate(pair_index(n)):
        out[:, i, j] = (codes >> np.uint32(t)) & 1
    return out


def decode_ops(n: int, op_bits: np.ndarray) -> np.ndarray:
    """Op ids ``int16 [K, n]`` (0 input, 1..3 interior, 4 output) from packed interior ops."""
    codes = np.asarray(op_bits, dtype=np.int64)
    out = np.empty((len(codes), n), dtype=np.int16)
    out[:, 0] = 0
    out[:, n - 1] = 4
    for t in range(n - 2):
        out[:, 1 + t] = (codes >> (2 * t)) & 3
    return out


def enumerate_space() -> Enumeration:
    """Enumerate and hash every unique NB101 cell; checks the official per-size counts."""
    nv_parts, adj_parts, op_parts, hash_parts = [], [], [], []
    for n in range(2, MAX_VERTICES + 1):
        adj_codes, op_codes = _enumerate_n(n, MAX_EDGES)
        if len(adj_codes) != COUNTS_BY_VERTICES[n]:
            raise RuntimeError(
                f"NB101 enumeration found {len(adj_codes)} cells with {n} vertices, expected "
                f"{COUNTS_BY_VERTICES[n]}"
            )
        ops = decode_ops(n, op_codes).astype(np.int64)
        labels = np.where(ops == 0, -1, np.where(ops == 4, -2, ops - 1))
        hashes = hash_cells(decode_adjacency(n, adj_codes), labels)
        nv_parts.append(np.full(len(adj_codes), n, dtype=np.uint8))
        adj_parts.append(adj_codes)
        op_parts.append(op_codes)
        hash_parts.append(hashes)
    hashes = np.concatenate(hash_parts)
    keys = hashes.view("S16").ravel()
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    dup = int(np.count_nonzero(sorted_keys[1:] == sorted_keys[:-1]))
    if dup:
        raise RuntimeError(f"NB101 enumeration: {dup} hash collisions between distinct cells")
    return Enumeration(
        np.concatenate(nv_parts)[order],
        np.concatenate(adj_parts)[order],
        np.concatenate(op_parts)[order],
        np.ascontiguousarray(hashes[order]),
    )


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


class CacheError(ValueError):
    """The NB101 enumeration cache file is unreadable, of another version, or corrupt."""


def cache_path(directory: str | os.PathLike[str] | None = None) -> Path:
    """``<cache_dir>/nb101_cells_v<FORMAT_VERSION>.npz``."""
    if directory is None:
        from ..paths import cache_dir

        base = cache_dir()
    else:
        base = Path(directory)
    return base / f"nb101_cells_v{FORMAT_VERSION}.npz"


def save(enum: Enumeration, path: Path) -> None:
    """Write atomically (temporary file + rename), so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                format_version=np.array(FORMAT_VERSION, dtype=np.int64),
                checksum=np.array(enum.checksum()),
                num_vertices=enum.num_vertices,
                adj_bits=enum.adj_bits,
                op_bits=enum.op_bits,
                hashes=enum.hashes,
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> Enumeration:
    """Read and verify a cache file; raise :class:`CacheError` if anything is off."""
    try:
        with np.load(path, allow_pickle=False) as z:
            version = int(z["format_version"])
            if version != FORMAT_VERSION:
                raise CacheError(
                    f"{path}: format version {version}, this archperf reads {FORMAT_VERSION}"
                )
            checksum = str(z["checksum"])
            enum = Enumeration(z["num_vertices"], z["adj_bits"], z["op_bits"], z["hashes"])
    except CacheError:
        raise
    except Exception as exc:  # zip, npy header, missing key: all mean a broken file
        raise CacheError(f"{path}: unreadable NB101 cache ({type(exc).__name__}: {exc})") from exc
    n = len(enum)
    shapes_ok = (
        enum.num_vertices.shape == (n,)
        and enum.num_vertices.dtype == np.uint8
        and enum.adj_bits.shape == (n,)
        and enum.adj_bits.dtype == np.uint32
        and enum.op_bits.shape == (n,)
        and enum.op_bits.dtype == np.uint16
        and enum.hashes.shape == (n, 16)
        and enum.hashes.dtype == np.uint8
    )
    if not shapes_ok or n != NUM_CELLS:
        raise CacheError(f"{path}: wrong array shapes or dtypes (expected {NUM_CELLS} cells)")
    if enum.checksum() != checksum:
        raise CacheError(f"{path}: checksum mismatch (the file is corrupt)")
    return enum


def load_or_build(
    path: Path | None = None, *, rebuild: bool = False, write: bool = True
) -> Enumeration:
    """The enumeration from ``path`` (default :func:`cache_path`), built and saved if missing.

    A corrupt, truncated or old-version file is rebuilt with a :class:`RuntimeWarning`.
    """
    if path is None:
        path = cache_path()
    if not rebuild and path.exists():
        try:
            return load(path)
        except CacheError as exc:
            warnings.warn(f"{exc}; rebuilding the NB101 enumeration", RuntimeWarning, stacklevel=2)
    enum = enumerate_space()
    if write:
        try:
            save(enum, path)
        except OSError as exc:
            warnings.warn(
                f"could not write the NB101 cache {path}: {exc}; keeping it in memory only",
                RuntimeWarning,
                stacklevel=2,
            )
    return enum
