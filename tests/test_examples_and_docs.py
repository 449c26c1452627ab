"""Every example runs, and every relative link in docs/ resolves."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
#: Examples whose accuracies are printed rounded (2 decimals), never as raw floats.
ROUNDED = {"nacg_search.py", "semigan_nad_search.py", "anytime_plot.py"}


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
