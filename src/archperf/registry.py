"""The component registry: a pluggy plugin manager over the ``archperf`` entry-point group.

>>> from archperf import registry
>>> space = registry.create("search_space", "nb201")
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from . import builtin, hookspecs
from .errors import UnknownComponentError

if TYPE_CHECKING:  # pragma: no cover
    from .interfaces import SearchSpace

__all__ = [
    "ALIASES",
    "Entry",
    "Registry",
    "canonical_name",
    "create",
    "default_registry",
    "get",
    "names",
    "search_space",
]

ENTRY_POINT_GROUP = "archperf"
BUILTIN_NAME = "archperf.builtin"

#: Other names for registered components (kind → alias → name), the names NASLib and NNI users
#: know.  An alias is used only when no component is registered under that exact name.
ALIASES: dict[str, dict[str, str]] = {
    "search_method": {"random": "rs", "evolution": "re"},
}


@dataclass(frozen=True)
class Entry:
    """One registered component: its kind, name, target and where it came from."""

    kind: str
    name: str
    target: Any
    plugin: str
    distribution: str

    def load(self) -> Any:
        """Import a lazy ``"module:attr"`` target, or return the object as registered."""
        if not isinstance(self.target, str):
            return self.target
        module_name, sep, attr = self.target.partition(":")
        if not sep or not module_name or not attr:
            raise UnknownComponentError(
                f"{self.kind} {self.name!r} from plugin {self.plugin!r} has a malformed target "
                f"{self.target!r}; expected 'package.module:attribute'"
            )
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj


class Registry:
    """Collects components from built-in and third-party plugins.

    Built-in components are registered first, through the same hooks; third-party plugins come
    from the entry-point group ``archperf`` (unless ``load_entry_points=False``) or from
    :meth:`register`.
    """

    def __init__(self, load_entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._pm.register(builtin, name=BUILTIN_NAME)
        if load_entry_points:
            self._pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        return self._pm

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object (module or instance with hook implementations)."""
        self._pm.register(plugin, name=name)

    def _distributions(self) -> dict[int, str]:
        out: dict[int, str] = {}
        for plugin, dist in self._pm.list_plugin_distinfo():
            meta = getattr(dist, "metadata", None)
            name = meta["name"] if meta is not None else getattr(dist, "project_name", "?")
            out[id(plugin)] = f"{name} {dist.version}"
        return out

    def entries(self, kind: str | None = None) -> list[Entry]:
        """Every registered component (of one kind, if given), in registration order."""
        kinds = [kind] if kind is not None else list(hookspecs.KINDS)
        for k in kinds:
            if k not in hookspecs.KINDS:
                raise UnknownComponentError(
                    f"unknown component kind {k!r}; kinds are: {', '.join(hookspecs.KINDS)}"
                )
        dists = self._distributions()
        from . import __version__

        out: list[Entry] = []
        for k in kinds:
            caller = getattr(self._pm.hook, hookspecs.KINDS[k])
            # Call each implementation separately to know which plugin gave what.
            for impl in reversed(caller.get_hookimpls()):
                result = impl.function()
                if result is None:
                    continue
                if not isinstance(result, dict):
                    raise TypeError(
                        f"plugin {impl.plugin_name!r} hook {hookspecs.KINDS[k]} must return a "
                        f"dict name -> target, got {type(result).__name__}"
                    )
                if impl.plugin_name == BUILTIN_NAME:
                    dist = f"archperf {__version__}"
                else:
                    dist = dists.get(id(impl.plugin), "(registered at run time)")
                for name, target in result.items():
                    out.append(Entry(k, str(name), target, impl.plugin_name, dist))
        return out

    def names(self, kind: str) -> list[str]:
        return sorted({e.name for e in self.entries(kind)})

    def aliases(self, kind: str) -> dict[str, str]:
        """Alias → name for ``kind``, for the aliases not shadowed by a registered name."""
        registered = set(self.names(kind))
        return {a: n for a, n in ALIASES.get(kind, {}).items() if a not in registered}

    def canonical_name(self, kind: str, name: str) -> str:
        """``name``, or the registered name an alias stands for (``random`` → ``rs``)."""
        if name in self.names(kind):
            return name
        return self.aliases(kind).get(name, name)

    def entry(self, kind: str, name: str) -> Entry:
        name = self.canonical_name(kind, name)
        matches = [e for e in self.entries(kind) if e.name == name]
        if not matches:
            available = ", ".join(self.names(kind)) or "(none)"
            also = ", ".join(f"{a} = {n}" for a, n in self.aliases(kind).items())
            raise UnknownComponentError(
                f"no {kind} named {name!r} is registered; available: {available}"
                + (f" (aliases: {also})" if also else "")
            )
        if len(matches) > 1:
            who = ", ".join(f"{e.plugin} ({e.distribution})" for e in matches)
            raise UnknownComponentError(
                f"{kind} {name!r} is registered by several plugins: {who}; unregister one"
            )
        return matches[0]

    def get(self, kind: str, name: str) -> Any:
        """The registered component (class or factory) ``name`` of ``kind``.

        Raises :class:`UnknownComponentError` listing the available names.
        """
        return self.entry(kind, name).load()

    def create(self, kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Instantiate the component ``name`` of ``kind`` with the given arguments."""
        return self.get(kind, name)(*args, **kwargs)


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry with built-ins and installed entry-point plugins (lazy)."""
    global _default
    if _default is None:
        _default = Registry()
    return _default


def get(kind: str, name: str) -> Any:
    """``default_registry().get(kind, name)``."""
    return default_registry().get(kind, name)


def create(kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
    """``default_registry().create(kind, name, ...)``."""
    return default_registry().create(kind, name, *args, **kwargs)


def names(kind: str) -> list[str]:
    """``default_registry().names(kind)``."""
    return default_registry().names(kind)


def canonical_name(kind: str, name: str) -> str:
    """``default_registry().canonical_name(kind, name)``: aliases → registered names."""
    return default_registry().canonical_name(kind, name)


def search_space(space: SearchSpace[Any] | str) -> SearchSpace[Any]:
    """The one way to resolve a search space: an instance is returned as it is, a name is
    built through the registry (``"nb201"``); anything else is a ``TypeError``."""
    from .interfaces import SearchSpace

    if isinstance(space, str):
        out: SearchSpace[Any] = create("search_space", space)
        return out
    if not isinstance(space, SearchSpace):
        raise TypeError(f"space must be a SearchSpace or a registered name, got {space!r}")
    return space
