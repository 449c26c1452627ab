"""The paper's experiment protocols as data: ``PROTOCOLS[name](seeds)`` → list of RunSpec.

- ``table2``: NAS-Bench-201, cifar10 / cifar100 / imagenet16-120, protocols honest and paper,
  20 seeds.  NACG at 160 queries (the paper's setting, N = 155 labeled + K = 5 generated);
  multi-round NACG, ``semigan-nad`` and the baselines ``ls``, ``bananas``, ``npenas`` and
  ``npenas-space`` at 100; RS and RE at 160 and 400, RE at 100.
- ``table1``: the NAS-Bench-101 subset (CIFAR-10), honest only (the subset has no
  paper-protocol metric), 10 seeds.  NACG, multi-round NACG, ``semigan-nad``, ``ls``,
  ``bananas`` and ``npenas`` at 110 (NACG: 105 + 5); RS/RE at 110 and 400.
- ``table3``: NAS-Bench-301 (YAHPO surrogate, CIFAR-10), honest, 10 seeds.  NACG, multi-round
  NACG, ``semigan-nad``, ``ls``, ``bananas`` and ``npenas`` at 150; RS/RE at 150 and 400.

``npenas-space`` ranks the whole space each round, so it runs only where the space can be
listed cheaply (NB201; NB101's 423,624 cells are above its ``max_space``).

The NACG hyper-parameters per table are in :data:`NACG_KWARGS` (``{}`` = the method's defaults).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .spec import RunSpec, parse_seeds

__all__ = ["NACG_KWARGS", "PROTOCOLS", "ReproProtocol", "report_header", "write_reports"]

#: NACG / multi-round NACG keyword arguments per table.  ``nacg`` is the paper's method at the
#: paper's settings (``TrainerConfig.paper()``: 60 epochs, α = α_p = 0.5; K = 5).  ``nacg-mr`` is
#: our multi-round extension: 5 rounds of K = 10, 5 warm-start epochs between rounds, and α_p = 0
#: (no γ3), because γ3 teaches PP to rate generated cells highly and so ruins its ranking of them
#: (docs/search.md).
#: NB301 uses a smaller unlabeled pool and batch: its 22-vertex graphs make training ~4x slower.
#: ``semigan-nad`` (the recommended search) runs with its defaults everywhere; on NB301 that is
#: its generator recipe (``candidates="auto"``: Table 3's multi-round NACG settings).
_MR: dict[str, Any] = {
    "trainer": {"epochs": 30, "alpha_p": 0.0},
    "rounds": 5,
    "top_k": 10,
    "finetune_epochs": 5,
}
NACG_KWARGS: dict[str, dict[str, dict[str, Any]]] = {
    "table1": {"nacg-mr": _MR},
    "table2": {"nacg-mr": _MR},
    "table3": {
        "nacg": {"trainer": {"unlabeled_batch_size": 64}, "unlabeled_size": 5000},
        "nacg-mr": {
            **_MR,
            "trainer": {**_MR["trainer"], "unlabeled_batch_size": 64},
            "unlabeled_size": 5000,
        },
    },
}


@dataclass(frozen=True)
class _Entry:
    """One method at one budget, with its display label."""

    method: str
    budget: int
    label: str | None = None


@dataclass(frozen=True)
class ReproProtocol:
    """A table of the paper as runs: benchmark, datasets, protocols, (method, budget) entries.

    Calling it with ``seeds`` (a count, a list, or a string like ``"0-19"``; default
    :attr:`default_seeds`) gives the :class:`RunSpec` list.
    """

    name: str
    title: str
    benchmark: str
    datasets: tuple[str, ...]
    protocols: tuple[str, ...]
    default_seeds: int
    entries: tuple[_Entry, ...]
    notes: str = ""
    benchmark_kwargs: dict[str, Any] = field(default_factory=dict)

    def method_kwargs(self, method: str) -> dict[str, Any]:
        return dict(NACG_KWARGS.get(self.name, {}).get(method, {}))

    def __call__(
        self,
        seeds: int | str | Sequence[int] | None = None,
        only: Sequence[str] | None = None,
        benchmark_kwargs: dict[str, Any] | None = None,
    ) -> list[RunSpec]:
        """The runs; ``only`` keeps entries whose method or label is listed."""
        if seeds is None:
            seed_list = list(range(self.default_seeds))
        elif isinstance(seeds, int | str):
            seed_list = parse_seeds(seeds)
        else:
            seed_list = [int(s) for s in seeds]
        entries = list(self.entries)
        if only is not None:
            wanted = set(only)
            known = {e.method for e in entries} | {e.label or e.method for e in entries}
            unknown = sorted(wanted - known)
            if unknown:
                raise ValueError(
                    f"{self.name} has no method or label {', '.join(unknown)}; it has: "
                    f"{', '.join(sorted(known))}"
                )
            entries = [e for e in entries if e.method in wanted or (e.label or e.method) in wanted]
        bkw = {**self.benchmark_kwargs, **(benchmark_kwargs or {})}
        return [
            RunSpec(
                method=e.method,
                method_kwargs=self.method_kwargs(e.method),
                benchmark=self.benchmark,
                dataset=dataset,
                protocol=protocol,
                budget=e.budget,
                seed=seed,
                benchmark_kwargs=bkw,
                label=e.label,
            )
            for dataset in self.datasets
            for protocol in self.protocols
            for e in entries
            for seed in seed_list
        ]


PROTOCOLS: dict[str, ReproProtocol] = {
    "table1": ReproProtocol(
        name="table1",
        title="Table 1: NAS-Bench-101 (archperf subset, CIFAR-10)",
        benchmark="nb101",
        datasets=("cifar10",),
        protocols=("honest",),
        default_seeds=10,
        entries=(
            _Entry("nacg", 110),
            _Entry("nacg-mr", 110),
            _Entry("semigan-nad", 110),
            _Entry("ls", 110),
            _Entry("bananas", 110),
            _Entry("npenas", 110),
            _Entry("rs", 110),
            _Entry("re", 110),
            _Entry("rs", 400),
            _Entry("re", 400),
        ),
        notes=(
            "Searches see only the 30,296 cells of the NB101 subset (validation accuracy of one "
            "training run); test accuracy exists for 30 of them, so most runs report none. "
            "No paper-protocol metric: honest only."
        ),
    ),
    "table2": ReproProtocol(
        name="table2",
        title="Table 2: NAS-Bench-201",
        benchmark="nb201",
        datasets=("cifar10", "cifar100", "imagenet16-120"),
        protocols=("honest", "paper"),
        default_seeds=20,
        entries=(
            _Entry("nacg", 160),
            _Entry("nacg-mr", 100),
            _Entry("semigan-nad", 100),
            _Entry("ls", 100),
            _Entry("bananas", 100),
            _Entry("npenas", 100),
            _Entry("npenas-space", 100),
            _Entry("rs", 160),
            _Entry("re", 160),
            _Entry("rs", 400),
            _Entry("re", 400),
            _Entry("re", 100),
        ),
        notes=(
            "NACG at 160 queries is the paper's setting (N = 155 labeled + K = 5 generated). "
            "honest: search on validation accuracy, report test accuracy; paper: test accuracy "
            "for both, as SemiGAN-NAD did."
        ),
    ),
    "table3": ReproProtocol(
        name="table3",
        title="Table 3: NAS-Bench-301 (DARTS space, CIFAR-10)",
        benchmark="nb301",
        datasets=("cifar10",),
        protocols=("honest",),
        default_seeds=10,
        entries=(
            _Entry("nacg", 150),
            _Entry("nacg-mr", 150),
            _Entry("semigan-nad", 150),
            _Entry("ls", 150),
            _Entry("bananas", 150),
            _Entry("npenas", 150),
            _Entry("rs", 150),
            _Entry("re", 150),
            _Entry("rs", 400),
            _Entry("re", 400),
        ),
        notes=(
            "NB301 is a surrogate of validation accuracy (YAHPO's ONNX surrogate by default): "
            "the reported value is the same surrogate validation prediction, not a test "
            "accuracy."
        ),
    ),
}


def _seed_ranges(seeds: Sequence[int]) -> str:
    out: list[str] = []
    for s in sorted(set(seeds)):
        if out and out[-1].split("-")[-1] == str(s - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{s}"
        else:
            out.append(str(s))
    return ",".join(out) or "none"


def report_header(
    protocol: ReproProtocol, records: Sequence[Mapping[str, Any]], failed: int = 0
) -> list[str]:
    """Lines stating the protocol, seeds, data source(s) and where the paper numbers come from."""
    from .. import __version__
    from .tables import paper_results

    sources = sorted({str(r.get("data_source")) for r in records}) or ["(no runs)"]
    seeds = [int(r["spec"]["seed"]) for r in records]
    paper = paper_results()
    lines = [
        f"{protocol.title} — archperf {__version__} reproduction "
        f"({datetime.now(UTC).date().isoformat()})",
        f"Benchmark {protocol.benchmark}; datasets {', '.join(protocol.datasets)}; protocols "
        f"{', '.join(protocol.protocols)} (honest = search on validation, report test; "
        "paper = the paper's metric for both).",
        f"Runs: {len(records)} finished"
        + (f", {failed} failed" if failed else "")
        + f"; seeds {_seed_ranges(seeds)}.",
        "Data source(s): " + "; ".join(sources) + ".",
        protocol.notes,
        _paper_line(protocol, paper),
    ]
    return [line for line in lines if line]


def _paper_line(protocol: ReproProtocol, paper: Mapping[str, Any]) -> str:
    """Where this table's paper column comes from: the quoted source when it holds numbers for
    the table's benchmark, else a statement that the column is empty (never another table)."""
    if any(e["benchmark"] == protocol.benchmark for e in paper["results"]):
        return f"Paper column: {paper['source']}. {_DASH_NOTE}"
    table = protocol.title.split(":")[0]
    return (
        f"Paper column: '—' in every row: the paper's {table} measured another metric than this "
        "table (see docs/results.md, which lists its numbers), and none are invented."
    )


_DASH_NOTE = "'—' = the paper has no number for that row's method, budget and protocol."


def write_reports(
    protocol: ReproProtocol,
    records: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    failed: int = 0,
) -> tuple[Path, Path, str]:
    """Write ``out_dir/<name>.md`` and ``.csv`` (header lines, then the summary table) and
    ``<name>_runs.csv`` (one line per run); returns the first two paths and the Markdown."""
    from .._io import atomic_write_bytes
    from .tables import runs_csv, summarize, to_csv, to_markdown

    rows = summarize(records)
    header = report_header(protocol, records, failed)
    md = f"# {header[0]}\n\n" + "".join(f"- {h}\n" for h in header[1:]) + "\n" + to_markdown(rows)
    csv_text = "".join(f"# {h}\n" for h in header) + to_csv(rows)
    out = Path(out_dir)
    md_path, csv_path = out / f"{protocol.name}.md", out / f"{protocol.name}.csv"
    atomic_write_bytes(md_path, md.encode("utf-8"))
    atomic_write_bytes(csv_path, csv_text.encode("utf-8"))
    atomic_write_bytes(out / f"{protocol.name}_runs.csv", runs_csv(records).encode("utf-8"))
    return md_path, csv_path, md
