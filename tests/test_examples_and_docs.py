"""Every example runs, and every relative link in docs/ resolves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_docs_links_resolve() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "check_docs.py")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout
