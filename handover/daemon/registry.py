"""Installed adapters, found through the `handover.adapters` entry-point group.

Built-in adapters register exactly the way a third-party package would (see
pyproject.toml), so the core never imports a concrete adapter by name. Loading is lazy:
listing what is installed must not import every adapter, and one adapter that fails to
import must not take the others (or `handover adapters`) down with it.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from handover.sdk.contracts import Adapter, AdapterKind

ENTRY_POINT_GROUP = "handover.adapters"
#: Adapters for tests only (the memory adapters of `handover.sdk.testing`): consulted
#: only while the environment variable TEST_ADAPTERS_ENV is "1", which the test kit's
#: pytest plugin sets, so a production daemon never lists or loads them.
TEST_ENTRY_POINT_GROUP = "handover.test_adapters"
TEST_ADAPTERS_ENV = "HANDOVER_TEST_ADAPTERS"

#: The kind shown by `describe_adapters` for an entry point that cannot be loaded.
BROKEN = "broken"


class UnknownAdapter(KeyError):
    """No adapter with this type name is installed.

    A KeyError so that callers treating the registry as a mapping keep working; the
    message lists what *is* installed, which is what an operator needs to fix a typo or
    a missing `pip install`.
    """

    def __init__(self, type_name: str, installed: Iterable[str]) -> None:
        super().__init__(type_name)
        self.type_name = type_name
        self.installed = tuple(sorted(installed))

    def __str__(self) -> str:
        # KeyError.__str__ would show only repr(type_name); say what can be used instead.
        available = ", ".join(self.installed) if self.installed else "none"
        close = difflib.get_close_matches(self.type_name, self.installed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return (
            f"no adapter type {self.type_name!r} is installed{hint} (installed: {available})"
        )


def installed_adapters() -> dict[str, EntryPoint]:
    """The entry points of the `handover.adapters` group by type name, not loaded.

    With `HANDOVER_TEST_ADAPTERS=1` the `handover.test_adapters` group is added (a
    production adapter of the same name wins). Not cached on purpose: the set of
    installed distributions can change in a running interpreter (tests, `pip install`
    next to a REPL), and the lookup is cheap next to loading a configuration.
    """
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if os.environ.get(TEST_ADAPTERS_ENV) == "1":
        for ep in entry_points(group=TEST_ENTRY_POINT_GROUP):
            found.setdefault(ep.name, ep)
    return found


def _load(entry_point: EntryPoint) -> type[Adapter]:
    """Import an entry point and check that it is a usable Adapter class."""
    obj = entry_point.load()
    if not (isinstance(obj, type) and issubclass(obj, Adapter)):
        raise TypeError(
            f"adapter entry point {entry_point.name!r} ({entry_point.value}) is not an "
            f"Adapter subclass but {obj!r}"
        )
    # `kind` is a ClassVar without a value on the Adapter base: a class that subclasses
    # Adapter directly instead of ChannelAdapter/BotAdapter/DeskAdapter/RegistryAdapter
    # cannot be routed.
    if not isinstance(getattr(obj, "kind", None), AdapterKind):
        raise TypeError(
            f"adapter entry point {entry_point.name!r} ({entry_point.value}) does not "
            "declare a kind (subclass ChannelAdapter, BotAdapter, DeskAdapter or "
            "RegistryAdapter)"
        )
    return obj


def adapter_class(type_name: str) -> type[Adapter]:
    """Load the adapter class registered as `type_name`.

    Raises UnknownAdapter when nothing is registered under that name, TypeError when the
    entry point does not name an Adapter subclass, and whatever the import raises when
    the adapter's module is broken.
    """
    installed = installed_adapters()
    entry_point = installed.get(type_name)
    if entry_point is None:
        raise UnknownAdapter(type_name, installed)
    return _load(entry_point)


def _first_doc_line(cls: type) -> str:
    # Only the class's own docstring: inspect.getdoc would fall back to the base
    # class's ("The citizen side: ..."), which would describe every undocumented adapter
    # the same way.
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str):
        return ""
    lines = inspect.cleandoc(doc).splitlines()
    return lines[0].strip() if lines else ""


def describe_adapters() -> list[tuple[str, str, str]]:
    """(kind, type name, first docstring line) of every installed adapter.

    Sorted by kind then name. An entry point that cannot be loaded is listed with kind
    "broken" and the error as its description instead of raising, so that one broken
    plugin never hides the others.
    """
    rows: list[tuple[str, str, str]] = []
    for name, entry_point in installed_adapters().items():
        try:
            cls = _load(entry_point)
        except Exception as exc:  # any import-time failure of third-party code
            rows.append((BROKEN, name, f"{type(exc).__name__}: {exc}"))
        else:
            rows.append((str(cls.kind), name, _first_doc_line(cls)))
    return sorted(rows)
