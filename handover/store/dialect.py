"""Where SQLite and PostgreSQL differ, for SQL that is written once for both engines.

Shared SQL is written with ``?`` placeholders; a `Dialect` turns it into what its
engine's driver expects (``$1, $2...`` for asyncpg) and converts values on the way in
and out (SQLite keeps times as epoch seconds, PostgreSQL as timestamptz). Each engine
defines its dialect next to its value conversions (``rows.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

# The shared SQL never has a "?" inside a string literal, so every "?" is a parameter.
_PLACEHOLDER = re.compile(r"\?")


class Statement(NamedTuple):
    """One SQL statement in an engine's dialect, with its parameters in order."""

    sql: str
    params: list[Any]


@dataclass(frozen=True, slots=True)
class Dialect:
    """One engine's spelling of the shared SQL."""

    #: Parameters are numbered ($1, $2...) instead of positional (?).
    numbered: bool
    #: Appended to a SELECT that picks a batch of rows the same transaction changes
    #: (PostgreSQL: skip rows another instance is writing instead of waiting for them).
    lock_batch: str
    #: A time as a query parameter, and a time column's value back as a datetime.
    time_param: Callable[[datetime], Any]
    time_value: Callable[[Any], datetime]
    #: Sets of ids travel as one array parameter instead of one parameter per id.
    id_arrays: bool

    def sql(self, text: str) -> str:
        """`text`, written with ``?`` placeholders, in this dialect."""
        if not self.numbered:
            return text
        numbers = iter(range(1, text.count("?") + 1))
        return _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", text)

    def statement(self, text: str, params: Sequence[Any]) -> Statement:
        """`text` in this dialect with `params`; one parameter per ``?``."""
        if text.count("?") != len(params):
            raise ValueError(f"{len(params)} parameters for {text.count('?')} placeholders")
        return Statement(self.sql(text), list(params))

    def among(self, column: str, ids: Sequence[str]) -> tuple[str, list[Any]]:
        """A condition "`column` is one of `ids`" (text ids), with its parameters."""
        if self.id_arrays:
            return f"{column} = ANY(?::text[])", [list(ids)]
        return f"{column} IN ({', '.join('?' * len(ids))})", list(ids)
