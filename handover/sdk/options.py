"""Typed reading of configuration tables that collects every problem instead of raising.

`handover.config.load` walks the TOML document once with these helpers. A wrong value is
recorded as a ConfigIssue with its dotted path and replaced by the default, so that the
walk goes on and the operator sees *all* mistakes of a file in one `check-config` run
instead of fixing them one restart at a time.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from typing import Any, TypeVar

from handover.sdk.contracts import ConfigIssue, ConfigIssues

T = TypeVar("T", bound=str)
V = TypeVar("V")

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def join(path: str, key: str) -> str:
    """The dotted path of `key` below `path`, quoting keys the way TOML would need."""
    part = key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)
    return f"{path}.{part}" if path else part


def index(path: str, i: int) -> str:
    """The path of element `i` of the array at `path` (`adapters.web.origin[0]`)."""
    return f"{path}[{i}]"


def is_under(path: str, prefix: str) -> bool:
    """Whether `path` is `prefix` itself or something inside it."""
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def type_name(value: Any) -> str:
    """The TOML name of a value's type, for "expected integer, got string"."""
    # bool before int: bool is an int subclass, but `port = true` is not a number.
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "table"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    return type(value).__name__


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest candidate, or a list of all of them."""
    options = sorted(set(candidates))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    if options:
        return f" (expected one of: {', '.join(options)})"
    return ""


# Units in decreasing size: a duration string lists each at most once, in this order,
# so "1h30m" is fine and "30m1h" or "1m1m" (usually a typo) is refused.
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like "90s", "10m", "1h30m", "1.5h", "250ms".

    Raises ValueError (with a message for the operator) or TypeError for other types.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"expected a duration (seconds or a string like \"10m\"), "
                        f"got {type_name(value)}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        if not text:
            raise ValueError('expected a duration like "90s", "10m" or "1h30m", got ""')
        seconds, pos, last_rank = 0.0, 0, -1
        ranks = list(_DURATION_UNITS)
        while pos < len(text):
            match = _DURATION_PART.match(text, pos)
            if match is None:
                hint = " (add a unit: s, m, h, d or ms)" if _is_number(text) else ""
                raise ValueError(
                    f'expected a duration like "90s", "10m" or "1h30m", got {value!r}{hint}'
                )
            rank = ranks.index(match.group(2))
            if rank <= last_rank:
                raise ValueError(
                    f"duration {value!r}: give each unit once, largest first (like \"1h30m\")"
                )
            last_rank = rank
            seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
            pos = match.end()
    if not math.isfinite(seconds):
        raise ValueError("expected a finite duration")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Issues:
    """The problems found so far.

    `suppress` marks a path whose problem is already reported (an unset environment
    variable, a refused literal secret): later complaints about the same value, such as
    "missing required key" after the value was dropped, would only be noise.
    """

    def __init__(self) -> None:
        self.items: list[ConfigIssue] = []
        self._suppressed: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, path: str, message: str) -> None:
        if any(is_under(path, p) for p in self._suppressed):
            return
        self.items.append(ConfigIssue(path, message))

    def absorb(self, exc: ConfigIssues | ConfigIssue) -> None:
        """Take over the issues raised by a parser we delegate to (an adapter, hours...)."""
        found = exc.issues if isinstance(exc, ConfigIssues) else [exc]
        for issue in found:
            self.add(issue.path, issue.message)

    def suppress(self, path: str) -> None:
        self._suppressed.append(path)


class Table:
    """Reads one TOML table, recording which keys it knows for the unknown-key check.

    Each getter returns a usable value even when the file's value is wrong (the default,
    after recording an issue), so the caller's code stays straight-line.

    `env_paths` are the paths whose string value came from an environment variable:
    there, "8080" is accepted for an integer and "true" for a boolean, since an
    environment variable can only carry text.
    """

    def __init__(
        self,
        data: Any,
        path: str,
        issues: Issues,
        env_paths: frozenset[str] = frozenset(),
    ) -> None:
        if data is None:
            data = {}
        elif not isinstance(data, Mapping):
            issues.add(path, f"expected table, got {type_name(data)}")
            # Read as empty, its required keys would each be reported missing as well.
            issues.suppress(path)
            data = {}
        self.data: Mapping[str, Any] = data
        self.path = path
        self.issues = issues
        self.env_paths = env_paths
        self.known: list[str] = []

    # -- plumbing ------------------------------------------------------------------

    def at(self, key: str) -> str:
        return join(self.path, key)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str) -> tuple[bool, Any]:
        self.known.append(key)
        if key in self.data:
            return True, self.data[key]
        return False, None

    def _wrong(self, key: str, expected: str, value: Any) -> None:
        self.issues.add(self.at(key), f"expected {expected}, got {type_name(value)}")

    def _from_env(self, key: str, value: Any) -> bool:
        return isinstance(value, str) and self.at(key) in self.env_paths

    def finish(self) -> None:
        """Report every key of the table that no getter asked for."""
        for key in self.data:
            if key not in self.known:
                self.issues.add(self.at(key), f"unknown key {key!r}{did_you_mean(key, self.known)}")

    # -- nested tables -------------------------------------------------------------

    def child(self, key: str) -> Table:
        """The sub-table `key` as a reader (empty when absent or of the wrong type)."""
        _, value = self._get(key)
        return Table(value, self.at(key), self.issues, self.env_paths)

    def raw_table(self, key: str) -> Mapping[str, Any] | None:
        """The sub-table `key` as data, for parsers we delegate to; None when absent."""
        present, value = self._get(key)
        if not present:
            return None
        if not isinstance(value, Mapping):
            self._wrong(key, "table", value)
            return None
        return value

    # -- scalars -------------------------------------------------------------------

    def string(self, key: str, default: str) -> str:
        value = self.optional_string(key)
        return default if value is None else value

    def optional_string(self, key: str) -> str | None:
        present, value = self._get(key)
        if not present:
            return None
        if not isinstance(value, str):
            self._wrong(key, "string", value)
            return None
        if not value.strip():
            self.issues.add(self.at(key), "must not be empty (leave the key out instead)")
            return None
        return value

    def required_string(self, key: str, what: str = "") -> str | None:
        if not self.has(key):
            self.known.append(key)
            self.issues.add(self.at(key), "required" + (f": {what}" if what else ""))
            return None
        return self.optional_string(key)

    def choice(self, key: str, default: T, choices: tuple[T, ...]) -> T:
        present, value = self._get(key)
        if not present:
            return default
        if not isinstance(value, str):
            self._wrong(key, "string", value)
            return default
        for option in choices:
            if value == option:
                return option
        self.issues.add(
            self.at(key),
            f"expected one of {', '.join(repr(c) for c in choices)}, got {value!r}",
        )
        return default

    def boolean(self, key: str, default: bool) -> bool:
        present, value = self._get(key)
        if not present:
            return default
        if self._from_env(key, value) and value.lower() in ("true", "false"):
            return bool(value.lower() == "true")
        if not isinstance(value, bool):
            self._wrong(key, "boolean", value)
            return default
        return value

    def integer(
        self, key: str, default: int, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        present, value = self._get(key)
        if not present:
            return default
        if self._from_env(key, value):
            try:
                value = int(value.strip())
            except ValueError:
                self.issues.add(self.at(key), f"expected integer, got {value!r}")
                return default
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, "integer", value)
            return default
        if not self._in_range(key, value, minimum, maximum):
            return default
        return value

    def number(self, key: str, default: float, minimum: float | None = None) -> float:
        present, value = self._get(key)
        if not present:
            return default
        if self._from_env(key, value):
            try:
                value = float(value.strip())
            except ValueError:
                self.issues.add(self.at(key), f"expected number, got {value!r}")
                return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._wrong(key, "number", value)
            return default
        if not math.isfinite(value):
            self.issues.add(self.at(key), "expected a finite number")
            return default
        if not self._in_range(key, value, minimum, None):
            return default
        return float(value)

    def duration(self, key: str, default: float, *, allow_zero: bool = False) -> float:
        """A `*_seconds` key: a number of seconds or a string like "10m" or "1h30m"."""
        present, value = self._get(key)
        if not present:
            return default
        if self._from_env(key, value) and _is_number(value):
            value = float(value)
        try:
            seconds = parse_duration(value)
        except (TypeError, ValueError) as exc:
            self.issues.add(self.at(key), str(exc))
            return default
        if seconds == 0 and not allow_zero:
            self.issues.add(self.at(key), "must be longer than 0 seconds")
            return default
        return seconds

    def _in_range(
        self, key: str, value: float, minimum: float | None, maximum: float | None
    ) -> bool:
        if minimum is not None and value < minimum:
            self.issues.add(self.at(key), f"must be at least {minimum}, got {value}")
            return False
        if maximum is not None and value > maximum:
            self.issues.add(self.at(key), f"must be at most {maximum}, got {value}")
            return False
        return True

    # -- arrays --------------------------------------------------------------------

    def strings(
        self, key: str, default: tuple[str, ...] = (), *, allow_single: bool = False
    ) -> tuple[str, ...]:
        """An array of non-empty strings. `allow_single` also takes one bare string,
        which is what `foo_file = "/path"` yields for a list-valued secret."""
        present, value = self._get(key)
        if not present:
            return default
        if allow_single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            self._wrong(key, "array of strings", value)
            return default
        out: list[str] = []
        ok = True
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.issues.add(index(self.at(key), i), f"expected string, got {type_name(item)}")
                ok = False
            elif not item.strip():
                self.issues.add(index(self.at(key), i), "must not be empty")
                ok = False
            else:
                out.append(item)
        return tuple(out) if ok else default


def tenant_tables(
    table: Table, read: Callable[[Table], V], *, required: str | None = None
) -> dict[str, V]:
    """The per-tenant settings of an adapter section: `read` applied to each
    `[<section>.tenants.<id>]` table, which is then checked for unknown keys.

    `required` (what each tenant table must hold) makes at least one tenant table
    mandatory. For settings that fall back to the instance's own, read the instance
    level first and let `read` start from it (see the rasa adapter's options).
    """
    tenants = table.child("tenants")
    if required is not None and not tenants.data:
        table.issues.add(table.at("tenants"), f"required: a [.tenants.<id>] table with {required}")
    found: dict[str, V] = {}
    for tenant_id in tenants.data:
        sub = tenants.child(tenant_id)
        found[tenant_id] = read(sub)
        sub.finish()
    return found


def sort_in_file_order(
    issues: Iterable[ConfigIssue], data: Mapping[str, Any]
) -> list[ConfigIssue]:
    """The issues in the order an operator reading the file top to bottom meets them."""
    order = _file_order(data)
    return sorted(issues, key=lambda issue: _position(issue.path, order))


def _file_order(data: Mapping[str, Any]) -> dict[str, int]:
    """Every path of the document, numbered in the order it appears in the file."""
    order: dict[str, int] = {}

    def walk(value: Any, path: str) -> None:
        order.setdefault(path, len(order))
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, join(path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, index(path, i))

    walk(data, "")
    return order


def _position(path: str, order: Mapping[str, int]) -> int:
    """Where an issue belongs in file order: at its path, or at its closest enclosing
    path that exists (a missing key is reported where its table is)."""
    best, best_length = 0, -1
    for known, position in order.items():
        if known and len(known) > best_length and is_under(path, known):
            best, best_length = position, len(known)
    return best
