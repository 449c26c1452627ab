from __future__ import annotations

import subprocess
import sys
import types

import pytest

from archperf import registry
from archperf.errors import UnknownComponentError
from archperf.hookspecs import hookimpl


def test_builtin_spaces_listed() -> None:
    reg = registry.Registry(load_entry_points=False)
    assert {"nb101", "nb201", "darts"} <= set(reg.names("search_space"))
    entry = reg.entry("search_space", "nb201")
    assert entry.distribution.startswith("archperf ")


def test_unknown_name_lists_available() -> None:
    reg = registry.Registry(load_entry_points=False)
    with pytest.raises(UnknownComponentError) as info:
        reg.get("search_space", "nb999")
    msg = str(info.value)
    assert "nb999" in msg and "nb101" in msg and "nb201" in msg and "darts" in msg


def test_unknown_kind() -> None:
    reg = registry.Registry(load_entry_points=False)
    with pytest.raises(UnknownComponentError, match="kinds are"):
        reg.names("spaceship")


def test_third_party_plugin_via_pluggy() -> None:
    class ToySpace:
        name = "toy"

    plugin = types.SimpleNamespace()

    @hookimpl
    def archperf_search_spaces() -> dict[str, object]:
        return {"toy": ToySpace}

    plugin.archperf_search_spaces = archperf_search_spaces
    reg = registry.Registry(load_entry_points=False)
    reg.register(plugin, name="toy-plugin")
    assert reg.get("search_space", "toy") is ToySpace
    assert reg.entry("search_space", "toy").plugin == "toy-plugin"
    assert isinstance(reg.create("search_space", "toy"), ToySpace)


def test_duplicate_name_is_an_error() -> None:
    plugin = types.SimpleNamespace()

    @hookimpl
    def archperf_search_spaces() -> dict[str, object]:
        return {"nb201": "somewhere:Else"}

    plugin.archperf_search_spaces = archperf_search_spaces
    reg = registry.Registry(load_entry_points=False)
    reg.register(plugin, name="dup")
    with pytest.raises(UnknownComponentError, match="several plugins"):
        reg.get("search_space", "nb201")


def test_malformed_target() -> None:
    plugin = types.SimpleNamespace()

    @hookimpl
    def archperf_search_spaces() -> dict[str, object]:
        return {"broken": "no_colon_here"}

    plugin.archperf_search_spaces = archperf_search_spaces
    reg = registry.Registry(load_entry_points=False)
    reg.register(plugin, name="broken")
    with pytest.raises(UnknownComponentError, match="malformed target"):
        reg.get("search_space", "broken")


def test_entry_point_plugin(tmp_path, monkeypatch) -> None:
    """A real distribution on sys.path with an entry point in group 'archperf' is found."""
    pkg = tmp_path / "toyplug"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from archperf.hookspecs import hookimpl\n"
        "class Toy:\n    pass\n"
        "@hookimpl\n"
        "def archperf_conditions():\n    return {'toy-cond': 'toyplug:Toy'}\n"
    )
    dist = tmp_path / "toyplug-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplug\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[archperf]\ntoyplug = toyplug\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = registry.Registry(load_entry_points=True)
    entry = reg.entry("condition", "toy-cond")
    assert entry.distribution == "toyplug 1.2.3"
    assert entry.load().__name__ == "Toy"


def test_cli_plugins_lists_spaces() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "archperf", "plugins"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("nb101", "nb201", "darts"):
        assert name in out


def test_import_is_light() -> None:
    code = (
        "import sys, archperf, archperf.registry, archperf.interfaces, archperf.cli\n"
        "heavy = [m for m in ('torch', 'torch_geometric', 'dgl', 'onnxruntime', 'ray')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
