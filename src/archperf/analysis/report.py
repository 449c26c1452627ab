"""The whole analysis of a list of generated cells against a benchmark, and its files.

:func:`analyze` puts together Table 4 (:mod:`.quality`), the signatures of figures 2 / 3
(:mod:`.signatures`) and the structure statistics of figures 4 / 5 (:mod:`.graphs`), with the
groups they are compared with:

* **generated top-k**: the ``k`` best *distinct* benchmark records (by the benchmark's
  validation metric) among the generated cells the benchmark knows — fewer than ``k`` when it
  knows fewer (the NB101 subset);
* **benchmark top-k**: the ``k`` best records of the benchmark by the same metric (for NB101
  the subset's 30,296 cells, not the whole space);
* **random-n top-k**: the same selection as *generated top-k* applied to as many cells as
  there are valid generated ones, drawn uniformly from the space (seeded): the baseline that
  separates what the generator learned from what picking the best k of n cells does anyway;
* **random k**: ``k`` distinct benchmark records drawn uniformly (seeded): how close two
  signatures are by chance;
* **space**: every cell of a small enumerable space (NB201: 15,625), else a uniform sample of
  20,000 cells (NB101), for the structure statistics.

:class:`AnalysisResult` writes ``analysis.json``, ``analysis.md`` and the figures.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_bytes
from ..interfaces import SearchSpace
from .graphs import op_presence, path_length_histogram, path_lengths
from .quality import Threshold, quality_table
from .signatures import Signature, compare_signatures, signature

__all__ = [
    "DEFAULT_TOP_K",
    "SPACE_SAMPLE",
    "AnalysisResult",
    "analyze",
    "random_records",
    "space_cells",
    "top_generated",
    "top_of_benchmark",
]

DEFAULT_TOP_K = 64
SPACE_SAMPLE = 20_000
_ENUMERATE_LIMIT = 100_000


def space_cells(
    space: SearchSpace[Any], seed: int = 0, sample: int = SPACE_SAMPLE
) -> tuple[list[Any], str]:
    """Every cell of a space of at most 100,000 cells, else ``sample`` uniform draws; and a
    sentence saying which."""
    size = len(space) if hasattr(space, "__len__") else None
    if size is not None and size <= _ENUMERATE_LIMIT and hasattr(space, "enumerate"):
        return list(space.enumerate()), f"all {size:,} cells of the space"
    cells = space.sample(sample, seed=seed)
    return cells, f"{sample:,} cells drawn uniformly from the space (seed {seed})"


def _known_records(bench: Any, metric: str) -> tuple[np.ndarray, np.ndarray]:
    col = np.asarray(bench.column(metric), dtype=np.float64)
    rec = np.flatnonzero(np.isfinite(col))
    return rec, col[rec]


def top_of_benchmark(bench: Any, k: int, metric: str = "val") -> tuple[list[Any], np.ndarray]:
    """The ``k`` best benchmark records by ``metric`` (ties: lower record index first)."""
    rec, val = _known_records(bench, metric)
    order = np.lexsort((rec, -val))[:k]
    return [bench.arch_at(int(i)) for i in rec[order]], val[order]


def random_records(bench: Any, k: int, seed: int, metric: str = "val") -> list[Any]:
    """``k`` distinct benchmark records with a ``metric`` value, drawn uniformly."""
    rec, _ = _known_records(bench, metric)
    pick = np.random.default_rng(seed).choice(rec, size=min(k, len(rec)), replace=False)
    return [bench.arch_at(int(i)) for i in np.sort(pick)]


def top_generated(
    bench: Any, cells: Sequence[Any], k: int, metric: str = "val"
) -> tuple[list[Any], np.ndarray]:
    """The ``k`` best distinct benchmark records among ``cells`` (valid ones) by ``metric``.

    Each record is represented by the first generated cell that maps to it (its vertex order
    is the generator's).  Cells the benchmark does not know are skipped; fewer than ``k`` are
    returned when fewer are known.
    """
    idx = np.asarray(bench.index_of(cells), dtype=np.int64)
    col = np.asarray(bench.column(metric), dtype=np.float64)
    first: dict[int, int] = {}
    for j, r in enumerate(idx.tolist()):
        if r >= 0 and np.isfinite(col[r]) and r not in first:
            first[r] = j
    recs = np.fromiter(first, dtype=np.int64, count=len(first))
    vals = col[recs] if len(recs) else np.zeros(0)
    order = np.lexsort((recs, -vals))[:k]
    return [cells[first[int(r)]] for r in recs[order]], vals[order]


def _summary(values: np.ndarray) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {"n": 0, "mean": None, "median": None, "max": None}
    return {
        "n": int(v.size),
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "max": float(v.max()),
    }


def _group_stats(space: SearchSpace[Any], cells: Sequence[Any]) -> tuple[dict, dict]:
    ops = {"n": len(cells), "counts": op_presence(space, cells)}
    paths = {"n": len(cells), "counts": path_length_histogram(path_lengths(space, cells))}
    return ops, paths


@dataclass
class AnalysisResult:
    """The numbers (:attr:`data`, JSON-ready) and the signatures behind the figures."""

    data: dict[str, Any]
    signatures: dict[str, Signature] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(_jsonable(self.data), indent=2, sort_keys=False) + "\n"

    def figures(self) -> dict[str, Any]:
        """The matplotlib figures by file stem: ``signature`` and ``structure``."""
        from .plots import plot_signatures, plot_structure

        head = self.data["setup"]["title"]
        figs: dict[str, Any] = {}
        if "generated" in self.signatures and "benchmark" in self.signatures:
            k = self.data["signatures"]["k"]
            n = self.data["signatures"]["random_n"]
            panels = {f"generated top-{k}": self.signatures["generated"]}
            if "random_top" in self.signatures:
                panels[f"top-{k} of {n:,} uniform cells"] = self.signatures["random_top"]
            panels[f"benchmark top-{k}"] = self.signatures["benchmark"]
            figs["signature"] = plot_signatures(
                panels, f"{head}: signatures, ranked by the validation metric"
            )
        figs["structure"] = plot_structure(
            self.data["op_presence"], self.data["path_lengths"], head
        )
        return figs

    def write(
        self,
        out_dir: str | Path,
        *,
        figures_dir: str | Path | None = None,
        formats: Sequence[str] = ("png", "svg"),
        figures: bool = True,
    ) -> list[Path]:
        """Write ``analysis.json``, ``analysis.md`` and (unless ``figures=False``) the figures
        (``signature.*``, ``structure.*`` into ``figures_dir``, default ``out_dir``)."""
        out = Path(out_dir)
        written: list[Path] = []
        fig_paths: dict[str, list[Path]] = {}
        if figures:
            from .plots import save_figure

            fdir = Path(figures_dir) if figures_dir is not None else out
            for stem, fig in self.figures().items():
                fig_paths[stem] = save_figure(fig, fdir / stem, formats)
                written.extend(fig_paths[stem])
        md = out / "analysis.md"
        links = {
            stem: [os.path.relpath(p, md.parent).replace(os.sep, "/") for p in paths]
            for stem, paths in fig_paths.items()
        }
        atomic_write_bytes(out / "analysis.json", self.to_json().encode("utf-8"))
        atomic_write_bytes(md, self.to_markdown(links).encode("utf-8"))
        return [out / "analysis.json", md, *written]

    def to_markdown(self, figure_links: Mapping[str, Sequence[str]] | None = None) -> str:
        """A human-readable report of :attr:`data` (figure links relative to the file)."""
        return _markdown(self.data, figure_links or {})


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    return x


def analyze(
    space: SearchSpace[Any],
    cells: Sequence[Any],
    bench: Any,
    *,
    reference: Sequence[Any] | None = None,
    reference_name: str = "reference set",
    k: int = DEFAULT_TOP_K,
    thresholds: Sequence[Threshold] | None = None,
    space_sample: tuple[list[Any], str] | None = None,
    seed: int = 0,
    setup: Mapping[str, Any] | None = None,
) -> AnalysisResult:
    """Analyze generated ``cells`` against tabular benchmark ``bench`` (see the module doc).

    ``reference``: cells for novelty (e.g. the labeled set), ``reference_name`` says what they
    are; ``space_sample``: ``(cells, description)`` for the structure statistics (default
    :func:`space_cells`); ``seed`` seeds the random-k baseline and the space sample;
    ``setup``: extra facts recorded under ``"setup"`` (how the cells were made).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    cells = list(cells)
    if not cells:
        raise ValueError("no cells to analyze")
    if getattr(bench, "space", None) is not None and bench.space.name != space.name:
        raise ValueError(f"benchmark is for space {bench.space.name!r}, cells for {space.name!r}")
    quality = quality_table(space, cells, bench, reference=reference, thresholds=thresholds)
    if reference is not None:
        quality["generation"]["reference"] = reference_name
    valid = [c for c in cells if space.is_valid(c)]
    desc = bench.describe() if hasattr(bench, "describe") else {}
    dataset = desc.get("dataset", getattr(bench, "dataset", ""))
    title = f"{space.name.upper()} {dataset}".strip()

    gen_vals = bench.lookup(valid, "val") if valid else np.zeros(0)
    accuracy: dict[str, Any] = {
        "metric": desc.get("search_metric", "val"),
        "generated_samples": _summary(np.asarray(gen_vals, dtype=np.float64)),
        "benchmark_records": _summary(np.asarray(bench.column("val"), dtype=np.float64)),
    }

    top_gen, top_gen_val = top_generated(bench, valid, k)
    top_bench, top_bench_val = top_of_benchmark(bench, k)
    uniform = space.sample(max(len(valid), 1), seed=seed + 1)
    top_uniform, top_uniform_val = top_generated(bench, uniform, k)
    rand = random_records(bench, k, seed)
    sigs: dict[str, Signature] = {}
    sig_data: dict[str, Any] = {
        "k": k,
        "random_n": len(uniform),
        "random_n_known": int(np.isfinite(bench.lookup(uniform, "val")).sum()),
    }
    try:
        sigs = {
            "generated": signature(space, top_gen),
            "random_top": signature(space, top_uniform),
            "benchmark": signature(space, top_bench),
            "random": signature(space, rand),
        }
    except ValueError as exc:  # a space without a signature definition
        sig_data["unavailable"] = str(exc)
    if sigs:
        sig_data.update({name: s.to_dict() for name, s in sigs.items()})
        for name in ("generated", "random_top", "random"):
            sig_data[f"{name}_vs_benchmark"] = compare_signatures(sigs[name], sigs["benchmark"])
    sig_data["generated_top_val"] = [float(v) for v in top_gen_val]
    sig_data["random_top_val"] = [float(v) for v in top_uniform_val]
    sig_data["benchmark_top_val"] = [float(v) for v in top_bench_val]

    if space_sample is None:
        space_sample = space_cells(space, seed=seed)
    groups = {
        "generated": valid,
        f"benchmark top-{k}": top_bench,
        "space": space_sample[0],
    }
    ops: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for name, group in groups.items():
        ops[name], paths[name] = _group_stats(space, group)

    forms = [space.canonical(c) for c in valid]
    first: dict[str, Any] = {}
    for c, f in zip(valid, forms, strict=True):
        first.setdefault(f, c)
    common = Counter(forms).most_common(5)
    common_val = bench.lookup([first[f] for f, _ in common], "val") if common else []
    most_common = [
        {"cell": space.to_text(first[f]), "count": n, "val": float(v)}
        for (f, n), v in zip(common, common_val, strict=True)
    ]

    top_list = []
    test_ok = any(r.get("metric") == "test" and r["available"] for r in quality["thresholds"])
    test_vals = bench.lookup(top_gen[:10], "test") if test_ok and top_gen else None
    for j, c in enumerate(top_gen[:10]):
        item: dict[str, Any] = {"cell": space.to_text(c), "val": float(top_gen_val[j])}
        if test_vals is not None:
            item["test"] = float(test_vals[j])
        top_list.append(item)

    data: dict[str, Any] = {
        "setup": {
            "title": title,
            "space": space.name,
            "benchmark": desc,
            "n_cells": len(cells),
            "top_k": k,
            "seed": seed,
            "space_cells": space_sample[1],
            **dict(setup or {}),
        },
        "quality": quality,
        "accuracy": accuracy,
        "signatures": sig_data,
        "op_presence": ops,
        "path_lengths": paths,
        "most_common_generated": most_common,
        "top_generated": top_list,
        "definitions": {
            "generated top-k": "the k best distinct benchmark records (by the validation "
            "metric) among the generated cells the benchmark knows",
            "benchmark top-k": "the k best benchmark records by the validation metric",
            "random-n top-k": "the generated top-k selection applied to n cells drawn "
            "uniformly from the space, n = the number of valid generated cells (seed + 1)",
            "random k": "k distinct benchmark records drawn uniformly (seeded baseline)",
            "most common": "the 5 most frequent canonical forms among the valid generated "
            "cells, each shown by its first generated cell (val: NaN/null if unknown)",
            "op presence": "cells containing the op at least once (interior vertices)",
            "path length": "edges on a shortest input->output path (BFS); NB201 on the "
            "op-on-edge DAG without 'none' edges, NB101 on the pruned cell",
        },
    }
    return AnalysisResult(data, sigs)


# ---------------------------------------------------------------------------- Markdown
def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f} %"


def _num(x: float | None, digits: int = 2) -> str:
    return (
        "n/a"
        if x is None or (isinstance(x, float) and not math.isfinite(x))
        else (f"{x:.{digits}f}")
    )


def _markdown(d: dict[str, Any], links: Mapping[str, Sequence[str]]) -> str:
    s = d["setup"]
    q = d["quality"]
    g = q["generation"]
    cov = q["coverage"]
    k = s["top_k"]
    lines = [f"# Analysis of generated cells: {s['title']}", "", "## Setup", ""]
    bench = s.get("benchmark", {})
    for key, value in s.items():
        if key in ("title", "benchmark"):
            continue
        text = json.dumps(value) if isinstance(value, dict | list) else value
        lines.append(f"- {key.replace('_', ' ')}: {text}")
    if bench:
        lines.append(
            f"- benchmark: {bench.get('benchmark')} {bench.get('dataset', '')}, source "
            f"{bench.get('source')}, search metric `{bench.get('search_metric')}`, report "
            f"metric `{bench.get('report_metric')}`"
        )
    lines += ["", "## Generation quality", "", "| metric | value |", "|---|---|"]
    lines.append(f"| validity | {_pct(g['validity'])} ({g['n_valid']}/{g['n']}) |")
    lines.append(f"| uniqueness | {_pct(g['uniqueness'])} ({g['n_unique']} distinct) |")
    if g.get("novelty") is None:
        lines.append("| novelty | n/a (no reference set) |")
    else:
        lines.append(
            f"| novelty vs. {g.get('reference', 'reference')} ({g['reference_size']} distinct) "
            f"| {_pct(g['novelty'])} ({g['n_novel']}/{g['n_valid']}) |"
        )
    lines.append(
        f"| valid cells the benchmark knows | {cov['n_in_benchmark']}/{cov['n_valid']} "
        f"({cov['n_distinct_records']} distinct records of {cov['benchmark_records']:,}) |"
    )
    acc = d["accuracy"]
    gs, bs = acc["generated_samples"], acc["benchmark_records"]
    lines.append(
        f"| `{acc['metric']}` of known generated samples: mean / median / max | "
        f"{_num(gs['mean'])} / {_num(gs['median'])} / {_num(gs['max'])} (n={gs['n']}) |"
    )
    lines.append(
        f"| `{acc['metric']}` of all benchmark records: mean / median / max | "
        f"{_num(bs['mean'])} / {_num(bs['median'])} / {_num(bs['max'])} (n={bs['n']:,}) |"
    )
    lines += [
        "",
        "## Table 4 layout: share above accuracy thresholds",
        "",
        "| threshold | generated samples | generated (distinct records) | whole benchmark |",
        "|---|---|---|---|",
    ]
    for r in q["thresholds"]:
        if not r["available"]:
            lines.append(f"| {r['label']} | n/a | n/a | n/a ({r['reason']}) |")
            continue
        cells = [
            f"{_pct(r[c]['fraction'])} ({r[c]['count']}/{r[c]['of']:,})"
            for c in ("generated", "generated_distinct", "space")
        ]
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    lines += ["", f"Rules: {q['rules']}.", ""]
    sig = d["signatures"]
    lines += ["## Signatures (figures 2 / 3)", ""]
    if "unavailable" in sig:
        lines.append(f"Not available: {sig['unavailable']}.")
    else:
        for key, what in (
            ("generated_top_val", f"generated top-{k}"),
            ("random_top_val", f"random-n top-{k} (n={sig['random_n']:,} uniform cells, "
             f"{sig['random_n_known']:,} known)"),
            ("benchmark_top_val", f"benchmark top-{k}"),
        ):  # fmt: skip
            v = sig[key]
            lo, hi = (min(v), max(v)) if v else (None, None)
            lines.append(f"- {what}: {len(v)} distinct records, validation {_num(lo)}–{_num(hi)}")
        lines += ["", "| comparison | op freq. mean abs. diff | most likely op agrees |"]
        has_adj = "adjacency_mean_abs_diff" in sig["generated_vs_benchmark"]
        if has_adj:
            lines[-1] += " adjacency freq. mean abs. diff |"
        lines.append("|---|---|---|" + ("---|" if has_adj else ""))
        for name in ("generated_vs_benchmark", "random_top_vs_benchmark", "random_vs_benchmark"):
            c = sig[name]
            row = (
                f"| {name.replace('_', ' ')} | {_num(c['ops_mean_abs_diff'], 3)} | "
                f"{_pct(c['most_likely_op_agreement'])} of {c['rows_compared']} rows |"
            )
            if has_adj:
                row += f" {_num(c['adjacency_mean_abs_diff'], 3)} |"
            lines.append(row)
        names = ("generated", "random_top", "benchmark", "random")
        lines += ["", "Most likely op per row:", "", "| row | " + " | ".join(names) + " |"]
        lines.append("|---" * (len(names) + 1) + "|")
        mls = {n: sig[n]["most_likely_ops"] for n in names}
        for i, row_label in enumerate(sig["benchmark"]["rows"]):
            lines.append(
                f"| {row_label} | " + " | ".join(str(mls[n][i] or "–") for n in names) + " |"
            )
    lines += ["", "## Op presence (figure 4)", ""]
    groups = list(d["op_presence"])
    lines.append("| op | " + " | ".join(f"{n} (n={d['op_presence'][n]['n']:,})" for n in groups))
    lines[-1] += " |"
    lines.append("|---" * (len(groups) + 1) + "|")
    for op in d["op_presence"][groups[0]]["counts"]:
        vals = []
        for n in groups:
            grp = d["op_presence"][n]
            frac = grp["counts"][op] / grp["n"] if grp["n"] else None
            vals.append(f"{_pct(frac)} ({grp['counts'][op]:,})")
        lines.append(f"| {op} | " + " | ".join(vals) + " |")
    lines += ["", "## Shortest input → output path (figure 5)", ""]
    keys: list[str] = []
    for grp in d["path_lengths"].values():
        keys += [c for c in grp["counts"] if c not in keys]
    keys.sort(key=lambda c: (c == "disconnected", int(c) if c.isdigit() else 0))
    lines.append("| length | " + " | ".join(groups) + " |")
    lines.append("|---" * (len(groups) + 1) + "|")
    for key in keys:
        vals = []
        for n in groups:
            grp = d["path_lengths"][n]
            cnt = grp["counts"].get(key, 0)
            vals.append(f"{_pct(cnt / grp['n'] if grp['n'] else None)} ({cnt:,})")
        lines.append(f"| {key} | " + " | ".join(vals) + " |")
    if d["most_common_generated"]:
        lines += ["", "## Most frequent generated cells (by canonical form)", ""]
        lines += ["| cell | samples | val |", "|---|---|---|"]
        for item in d["most_common_generated"]:
            lines.append(f"| `{item['cell']}` | {item['count']} | {_num(item['val'])} |")
    if d["top_generated"]:
        lines += ["", "## Best generated cells (by validation)", ""]
        has_test = "test" in d["top_generated"][0]
        lines.append("| cell | val |" + (" test |" if has_test else ""))
        lines.append("|---|---|" + ("---|" if has_test else ""))
        for item in d["top_generated"]:
            row = f"| `{item['cell']}` | {item['val']:.2f} |"
            if has_test:
                row += f" {item['test']:.2f} |"
            lines.append(row)
    if links:
        lines += ["", "## Figures", ""]
        for stem, paths in links.items():
            png = [p for p in paths if p.endswith(".png")]
            if png:
                lines.append(f"![{stem}]({png[0]})")
            others = [p for p in paths if not p.endswith(".png")]
            if others:
                lines.append("Also: " + ", ".join(f"[{Path(p).name}]({p})" for p in others))
            lines.append("")
    lines += ["", "## Definitions", ""]
    lines += [f"- {key}: {value}" for key, value in d["definitions"].items()]
    return "\n".join(lines) + "\n"
