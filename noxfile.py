"""nox sessions: tests, lint, types, docs (and optional-backend sessions).

Every session installs torch==2.13.0 on the same pip line as the rest (a CPU wheel on this
machine; any other torch spec may pull a multi-GB CUDA build).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "types", "docs"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
TORCH = "torch==2.13.0"
PLUGINS = [
    "plugins/archperf-pyg",
    "plugins/archperf-dgl",
    "plugins/archperf-nbmacro",
    "plugins/archperf-encoders",
]


def _install_dev(session: nox.Session) -> None:
    """torch (CPU wheel), archperf with its dev extras, and the plugins present (the GIN
    backends and the NAS-Bench-Macro space)."""
    from pathlib import Path

    plugins = [a for p in PLUGINS for a in ("-e", p) if Path(p).is_dir()]
    session.install(TORCH, "-e", ".[dev]", *plugins)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The full test suite (real data from ../shared/data or $ARCHPERF_DATA_DIR)."""
    _install_dev(session)
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "src", "tests", "plugins", "bench", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "plugins", "bench", "examples")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy over the package."""
    session.install(TORCH, "-e", ".[dev]")
    session.run("mypy")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Check the docs: every relative link resolves and every example runs."""
    _install_dev(session)
    session.run("python", "docs/check_docs.py")


@nox.session(python=PYTHON)
def nb301_official(session: nox.Session) -> None:
    """The official nasbench301 (0.3) backend with its old pins, in its own venv.

    nasbench301 0.3 imports only with ConfigSpace==0.6.1, numpy<2 and pandas<3, and imports
    torch_geometric models whose optional torch_scatter/torch_cluster are stubbed here.
    """
    session.install(
        TORCH,
        "-e",
        ".[test,nb301]",
        "nasbench301==0.3",
        "ConfigSpace==0.6.1",
        "numpy<2",
        "pandas<3",
        "xgboost-cpu",
        "lightgbm",
        "scikit-learn",
        "seaborn",
        "matplotlib",
        "networkx",
        "click",
        "torch-geometric",
        "ipython",
        "pathvalidate",
        "h5py",
    )
    from pathlib import Path

    stubs = Path(session.create_tmp()) / "stubs"
    for mod in ("torch_scatter", "torch_cluster"):
        (stubs / mod).mkdir(parents=True, exist_ok=True)
        (stubs / mod / "__init__.py").write_text(
            f'"""Stub: {mod} is not needed by the NB301 xgb ensemble; any use raises."""\n\n\n'
            "def __getattr__(name):\n"
            "    def _missing(*args, **kwargs):\n"
            f"        raise NotImplementedError(f'{mod}.{{name}} is a stub here')\n\n"
            "    return _missing\n"
        )
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "tests/test_nb301_benchmark.py",
        "-k",
        "official",
        *session.posargs,
        env={"PYTHONPATH": str(stubs), "ARCHPERF_REQUIRE_NB301_OFFICIAL": "1"},
    )
