"""The SQL written once for both engines, as each engine's driver receives it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handover.store.evaluation_sql import EvaluationSQL
from handover.store.postgres.rows import DIALECT as POSTGRES
from handover.store.sqlite.rows import DIALECT as SQLITE

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_placeholders_are_numbered_for_postgres_only() -> None:
    text = "SELECT * FROM t WHERE a = ? AND b < ? LIMIT ?"
    assert SQLITE.sql(text) == text
    assert POSTGRES.sql(text) == "SELECT * FROM t WHERE a = $1 AND b < $2 LIMIT $3"


def test_a_statement_needs_one_parameter_per_placeholder() -> None:
    with pytest.raises(ValueError):
        SQLITE.statement("SELECT * FROM t WHERE a = ? AND b = ?", ["x"])


def test_id_sets_are_lists_in_sqlite_and_arrays_in_postgres() -> None:
    ids = ["c1", "c2", "c3"]
    assert SQLITE.among("id", ids) == ("id IN (?, ?, ?)", ids)
    assert POSTGRES.among("id", ids) == ("id = ANY(?::text[])", [ids])


def test_times_are_epoch_seconds_in_sqlite_and_datetimes_in_postgres() -> None:
    sqlite, postgres = EvaluationSQL(SQLITE), EvaluationSQL(POSTGRES)
    assert sqlite.period("t", WHEN, WHEN) == ["t", WHEN.timestamp(), WHEN.timestamp()]
    assert postgres.period("t", WHEN, WHEN) == ["t", WHEN, WHEN]
    naive = WHEN.replace(tzinfo=None)  # taken as UTC by both engines
    assert postgres.period("t", naive, naive) == ["t", WHEN, WHEN]


def test_filters_number_only_the_parameters_given() -> None:
    sql, params = EvaluationSQL(POSTGRES).filtered("handover_events", "at", "t", None, WHEN, "c")
    assert sql == (
        "SELECT * FROM handover_events WHERE tenant = $1 AND at < $2 "
        "AND conversation_id = $3 ORDER BY at, id"
    )
    assert params == ["t", WHEN, "c"]


def test_purge_batches_skip_locked_rows_in_postgres_only() -> None:
    sqlite = EvaluationSQL(SQLITE).bodies_batch("t", WHEN, 10)
    postgres = EvaluationSQL(POSTGRES).metadata_batch("t", WHEN, 10)
    assert not sqlite.sql.endswith("SKIP LOCKED")
    assert postgres.sql.endswith("LIMIT $3 FOR UPDATE SKIP LOCKED")


def test_purge_statements_keep_parameters_in_placeholder_order() -> None:
    statements = EvaluationSQL(POSTGRES).purge_bodies(["c1"], WHEN, WHEN)
    outbox = statements[2]
    assert outbox.sql == (
        "DELETE FROM outbox WHERE conversation_id = ANY($1::text[]) AND created_at < $2"
    )
    assert outbox.params == [["c1"], WHEN]
    sqlite = EvaluationSQL(SQLITE).purge_bodies(["c1", "c2"], WHEN, WHEN)[-1]
    assert sqlite.sql.endswith("WHERE id IN (?, ?)")
    assert sqlite.params == [WHEN.timestamp(), "c1", "c2"]
