"""``--config FILE`` for ``archperf search`` and ``archperf run``: the same settings as the flags.

A config file is a TOML (``.toml``), JSON (``.json``) or, when PyYAML is installed, YAML
(``.yaml``/``.yml``) mapping whose keys are the command's long options without the dashes
(``method``, ``benchmark``, ``dataset``, ``budget``, ``seed``, ``protocol``, ``data-dir`` or
``data_dir``, ``no-progress``, ...).  ``set`` is a table of method hyper-parameters (nested tables
are dotted keys: ``[set.trainer] epochs = 30`` is ``--set trainer.epochs=30``); ``methods`` may be
a list, and so may ``constraint`` (flags given with ``--constraint`` are added to the file's).
Other flags given on the command line win over the file; for ``set``, a key given with
``--set`` replaces the file's value of that key.  An unknown key is an error naming it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError

__all__ = ["CONFIG_COMMANDS", "apply_config", "flatten_sets", "load_config", "merge_sets"]

CONFIG_COMMANDS = ("search", "run")
_SKIP = (argparse._HelpAction, argparse._VersionAction)


def load_config(path: str | Path) -> dict[str, Any]:
    """The mapping in a TOML, JSON or YAML file (by suffix); errors name the file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"config file {p}: {exc.strerror or exc}") from None
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib

            data: Any = tomllib.loads(raw.decode("utf-8"))
        elif suffix == ".json":
            data = json.loads(raw.decode("utf-8"))
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise UsageError(
                    f"config file {p}: YAML needs PyYAML (pip install pyyaml); or write the same "
                    "keys as TOML or JSON"
                ) from None
            data = yaml.safe_load(raw.decode("utf-8"))
        else:
            raise UsageError(f"config file {p}: use a .toml, .json or .yaml file")
    except UsageError:
        raise
    except Exception as exc:  # tomllib / json / yaml parse errors, bad UTF-8
        raise UsageError(f"config file {p}: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(
            f"config file {p}: expected a table of settings, got {type(data).__name__}"
        )
    return data


def flatten_sets(table: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``{"trainer": {"epochs": 30}, "top_k": 5}`` → ``["trainer.epochs=30", "top_k=5"]``
    (values as JSON, which ``--set`` parses back to the same values)."""
    out: list[str] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.extend(flatten_sets(value, f"{name}."))
        else:
            out.append(f"{name}={json.dumps(value, allow_nan=False)}")
    return out


def _set_key(item: str) -> str:
    return item.partition("=")[0].strip()


def merge_sets(from_file: Sequence[str], from_flags: Sequence[str]) -> list[str]:
    """The file's ``--set`` items, without the keys the command line sets again, then the
    command line's."""
    given = {_set_key(i) for i in from_flags}
    return [i for i in from_file if _set_key(i) not in given] + list(from_flags)


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    out: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if isinstance(action, _SKIP):
            continue
        for opt in action.option_strings:
            if opt.startswith("--") and opt != "--config":
                out[opt[2:]] = action
                out[opt[2:].replace("-", "_")] = action
    return out


def _value(where: str, key: str, action: argparse.Action, value: Any) -> Any:
    """The config value as the parser's default for ``action``, checked like the flag."""
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        if not isinstance(value, bool):
            raise UsageError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if isinstance(action, argparse._AppendAction):  # e.g. constraint: one text or a list
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, str) for v in items):
            raise UsageError(f"{where}: {key} must be a string or a list of strings, got {value!r}")
        return list(items)
    if isinstance(action, argparse._CountAction):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"{where}: {key} must be a count (0, 1, 2, ...), got {value!r}")
        return value
    if isinstance(value, list):
        if key in ("methods", "seeds") and isinstance(value, list) and value:
            return ",".join(str(v) for v in value)
        raise UsageError(f"{where}: {key} must be a single value, got the list {value!r}")
    if isinstance(value, dict):
        raise UsageError(f"{where}: {key} must be a single value, got a table")
    if action.type is int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise UsageError(f"{where}: {key} must be an integer, got {value!r}")
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise UsageError(f"{where}: {key} must be an integer, got {value!r}") from None
    elif isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UsageError(f"{where}: {key} must be a string, got {value!r}")
    else:
        value = str(value)
    if action.choices is not None and value not in action.choices:
        raise UsageError(
            f"{where}: {key} must be one of {', '.join(map(str, action.choices))}, got {value!r}"
        )
    return value


def apply_config(parser: argparse.ArgumentParser, path: str | Path) -> list[str]:
    """Make the settings of the config file at ``path`` the defaults of ``parser`` (a command's
    subparser) and return its ``set`` items (merged after parsing, see :func:`merge_sets`)."""
    where = f"config file {path}"
    data = load_config(path)
    options = _options(parser)
    defaults: dict[str, Any] = {}
    sets: list[str] = []
    for key, value in data.items():
        action = options.get(str(key))
        if action is None:
            known = sorted({a.option_strings[-1].lstrip("-") for a in options.values()})
            raise UsageError(
                f"{where}: unknown key {key!r}; the keys are the long options: {', '.join(known)}"
            )
        if action.dest in defaults or (action.dest == "set" and sets):
            raise UsageError(f"{where}: {key!r} is given twice")
        if action.dest == "set":
            if isinstance(value, Mapping):
                sets = flatten_sets(value)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                sets = list(value)
            else:
                raise UsageError(f"{where}: set must be a table of hyper-parameters, got {value!r}")
            continue
        defaults[action.dest] = _value(where, str(key), action, value)
    for action in parser._actions:
        if action.dest in defaults:
            action.required = False
    parser.set_defaults(**defaults)
    return sets


def config_argument(
    argv: Sequence[str], commands: Mapping[str, argparse.ArgumentParser]
) -> tuple[argparse.ArgumentParser | None, str | None]:
    """``(the command's parser, the --config value)`` found in ``argv``, or Nones."""
    sub = None
    for i, tok in enumerate(argv):
        if sub is None:
            if tok in commands:
                sub = commands[tok]
            continue
        if tok == "--":
            break
        if tok == "--config" and i + 1 < len(argv):
            return sub, argv[i + 1]
        if tok.startswith("--config="):
            return sub, tok.partition("=")[2]
    return None, None
