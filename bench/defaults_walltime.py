"""Wall time with the defaults: the Python API (no thread setting by the caller) against the CLI.

Two jobs, each run both ways in fresh processes, interleaved, ``--repeats`` times:

* ``train``: Bi-Arch2Perf on NB201 CIFAR-10 as ``archperf analyze`` does it (100 labeled
  benchmark records drawn with the seed, all 15,625 cells unlabeled, ``--epochs`` epochs, default
  ``TrainerConfig``), then 1,000 cells generated under class 0 and analyzed (no figures).
  API: this script's ``--job train`` (library calls only); CLI:
  ``archperf analyze --space nb201 --labels 100 --epochs E -n 1000 --no-figures``.
* ``search``: the docs' search snippet (docs/search.md): NACG with ``trainer={"epochs": 30}``,
  budget 100, seed 0.  API: ``--job search`` (``registry.create`` + ``method.search``); CLI:
  ``archperf search --method nacg --benchmark nb201 --budget 100 --set trainer.epochs=30``.

Each time is the subprocess's wall time (interpreter start and imports included, the same for
both); the training job's time inside the process (``fit`` alone) is recorded too.  Neither side
sets threads and ``ARCHPERF_THREADS`` is removed from the environment, so both use the library
default.  The API and CLI runs of a job must produce the same cells (checked).  With
``--torch-default`` one more API run per job uses torch's own default thread count
(``ARCHPERF_THREADS`` = ``torch.get_num_threads()`` of a fresh process), the pre-fix behaviour.

Run: python bench/defaults_walltime.py   (writes bench/results/defaults_walltime.json)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LABELS, SEED, N_GEN = 100, 0, 1000


# ------------------------------------------------------------------------------ the API jobs
def _benchmark() -> Any:
    from archperf.benchmarks.nb201 import NB201Benchmark
    from archperf.paths import find_data_dir

    data = find_data_dir()
    has_csv = data is not None and (data / "nb201" / "nb201.csv").is_file()
    return NB201Benchmark("cifar10", data_dir=data if has_csv else "none")


def job_train(out: Path, epochs: int) -> dict[str, Any]:
    """What ``archperf analyze --space nb201`` does, through the library (no thread setting)."""
    import numpy as np

    from archperf.analysis import analyze
    from archperf.analysis.report import space_cells
    from archperf.training.bi_arch2perf import BiArch2Perf, TrainerConfig

    bench = _benchmark()
    space = bench.space
    val = np.asarray(bench.column("val"), dtype=np.float64)
    known = np.flatnonzero(np.isfinite(val))
    rec = np.sort(np.random.default_rng(SEED).choice(known, size=LABELS, replace=False))
    labeled = [bench.arch_at(int(i)) for i in rec]
    unlabeled, _ = space_cells(space, seed=SEED)
    trainer = BiArch2Perf(TrainerConfig(space="nb201", epochs=epochs, seed=SEED, progress=False))
    t0 = time.perf_counter()
    trainer.fit(labeled, val[rec], unlabeled)
    seconds = time.perf_counter() - t0
    cells = trainer.generator.sample(0, N_GEN, seed=SEED)
    analyze(space, cells, bench, reference=labeled, seed=SEED).write(out, figures=False)
    valid = [space.to_text(c) for c in cells if space.is_valid(c)]
    (out / "generated.txt").write_text("".join(t + "\n" for t in valid), encoding="utf-8")
    return {"train_seconds": seconds}


def job_search(out: Path) -> dict[str, Any]:
    """The docs' search snippet (docs/search.md), as a user would run it."""
    from archperf import registry

    bench = _benchmark()
    oracle = bench.oracle(budget=100)
    method = registry.create("search_method", "nacg", trainer={"epochs": 30})
    outcome = method.search(oracle, seed=SEED)
    (out / "found.txt").write_text(bench.space.to_text(outcome.best) + "\n", encoding="utf-8")
    return {"train_seconds": outcome.info["train_seconds"]}


# ------------------------------------------------------------------------------ the driver
def _env(threads: int | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ARCHPERF_THREADS"}
    if threads is not None:
        env["ARCHPERF_THREADS"] = str(threads)
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return seconds


def _api(job: str, out: Path, epochs: int, threads: int | None = None) -> tuple[float, float]:
    cmd = [sys.executable, __file__, "--job", job, "--job-out", str(out), "--epochs", str(epochs)]
    wall = _timed(cmd, _env(threads))
    inner = json.loads((out / "job.json").read_text())["train_seconds"]
    return wall, float(inner)


def _cli(job: str, out: Path, epochs: int) -> tuple[float, float, str]:
    exe = [sys.executable, "-m", "archperf"]
    if job == "train":
        cmd = [*exe, "analyze", "--space", "nb201", "--labels", str(LABELS), "--epochs"]
        cmd += [str(epochs), "-n", str(N_GEN), "--seed", str(SEED), "--no-figures"]
        wall = _timed([*cmd, "--out", str(out)], _env())
        inner = json.loads((out / "analysis.json").read_text())["setup"]["train_seconds"]
        return wall, float(inner), (out / "generated.txt").read_text()
    rec = out / "record.json"
    cmd = [*exe, "search", "--method", "nacg", "--benchmark", "nb201", "--dataset", "cifar10"]
    cmd += ["--budget", "100", "--seed", str(SEED), "--set", "trainer.epochs=30"]
    wall = _timed([*cmd, "--no-progress", "-o", str(rec)], _env())
    data = json.loads(rec.read_text())
    return wall, float(data["outcome_info"]["train_seconds"]), data["final"]["arch"] + "\n"


def _summary(api: list[float], cli: list[float]) -> dict[str, Any]:
    a, c = statistics.median(api), statistics.median(cli)
    return {
        "api_seconds": [round(x, 2) for x in api],
        "cli_seconds": [round(x, 2) for x in cli],
        "api_median": round(a, 2),
        "cli_median": round(c, 2),
        "cli_over_api": round(c / a, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20, help="training job epochs (default 20)")
    ap.add_argument("--jobs", default="train,search")
    ap.add_argument(
        "--torch-default",
        action="store_true",
        help="also one API run per job with torch's default thread count",
    )
    ap.add_argument("--out", default=str(ROOT / "bench/results/defaults_walltime.json"))
    ap.add_argument("--job", choices=("train", "search"), help=argparse.SUPPRESS)
    ap.add_argument("--job-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.job:  # a child process: one API job
        out = Path(args.job_out)
        res = job_train(out, args.epochs) if args.job == "train" else job_search(out)
        (out / "job.json").write_text(json.dumps(res))
        return 0

    probe = (
        "import torch, archperf.runtime as r; print(torch.get_num_threads(), r.resolve_threads())"
    )
    torch_default, library = map(
        int,
        subprocess.run(
            [sys.executable, "-c", probe], env=_env(), capture_output=True, text=True, check=True
        ).stdout.split(),
    )
    results: dict[str, Any] = {
        "what": __doc__.split("\n\n")[0],
        "torch_default_threads": torch_default,
        "library_threads": library,
        "repeats": args.repeats,
        "train_epochs": args.epochs,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "jobs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for job in [j.strip() for j in args.jobs.split(",") if j.strip()]:
            api: list[float] = []
            cli: list[float] = []
            api_in: list[float] = []
            cli_in: list[float] = []
            outputs: set[str] = set()
            for r in range(args.repeats):
                for mode in ("api", "cli") if r % 2 == 0 else ("cli", "api"):
                    out = Path(tmp) / f"{job}-{mode}-{r}"
                    out.mkdir()
                    if mode == "api":
                        wall, inner = _api(job, out, args.epochs)
                        name = "generated.txt" if job == "train" else "found.txt"
                        outputs.add((out / name).read_text())
                        api.append(wall)
                        api_in.append(inner)
                    else:
                        wall, inner, text = _cli(job, out, args.epochs)
                        outputs.add(text)
                        cli.append(wall)
                        cli_in.append(inner)
                    print(
                        f"{job} {mode} {r}: {wall:.1f} s (training {inner:.1f} s)", file=sys.stderr
                    )
            entry = _summary(api, cli)
            entry["training_inside"] = _summary(api_in, cli_in)
            entry["same_output"] = len(outputs) == 1
            if args.torch_default:
                out = Path(tmp) / f"{job}-torch-default"
                out.mkdir()
                wall, inner = _api(job, out, args.epochs, threads=torch_default)
                print(f"{job} api torch-default: {wall:.1f} s", file=sys.stderr)
                entry["api_torch_default_threads_seconds"] = round(wall, 2)
                entry["api_torch_default_threads_training_seconds"] = round(inner, 2)
            results["jobs"][job] = entry
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["within_20_percent"] = all(
        abs(e["cli_over_api"] - 1) <= 0.2 for e in results["jobs"].values()
    )
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
