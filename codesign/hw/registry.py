"""Strict named registries (hardware models, engines, solvers, topologies).

Registering a name twice is an error; asking for an unknown name lists the known ones.
Hardware presets are discovered through the ``codesign.hardware`` entry-point group: each
entry names a module that registers its presets on import, so ``codesign`` itself depends on
no hardware family.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from codesign.errors import CodesignError, SpecError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> factory, names lowercase and hyphenated."""

    def __init__(self, kind: str, field: str, plugin_group: str | None = None) -> None:
        self.kind = kind
        self.field = field
        self._factories: dict[str, Callable[[], T]] = {}
        self._plugin_group = plugin_group
        self._loaded = plugin_group is None

    def register(self, name: str, factory: Callable[[], T]) -> None:
        if name in self._factories:
            raise CodesignError(f"{self.kind} {name!r} is registered twice")
        if name != name.lower() or " " in name:
            raise CodesignError(f"{self.kind} name {name!r} must be lowercase and hyphenated")
        self._factories[name] = factory

    def _load_plugins(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for ep in entry_points(group=self._plugin_group or ""):
            import_module(ep.value)

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._factories)

    def get(self, name: str) -> T:
        """Build the named entry.

        Raises:
            SpecError: unknown name, listing the known ones.
        """
        self._load_plugins()
        key = name.strip().lower()
        if key not in self._factories:
            raise SpecError(self.field, f"unknown {self.kind} {name!r}", self.names())
        return self._factories[key]()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().lower() in self.names()
