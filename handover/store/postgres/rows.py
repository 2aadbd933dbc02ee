"""Model values to PostgreSQL parameters and asyncpg records back, for that engine.

Times are timestamptz: asyncpg hands them over as UTC-aware datetimes both ways, at
the microsecond, so they round-trip. JSON columns travel as text (see 0001_init.sql).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from handover.model import (
    Content,
    Conversation,
    DeadLetter,
    OutboxRow,
    Party,
    State,
    SurveyAnswer,
    Target,
    Timer,
    TranscriptEntry,
)
from handover.store.dialect import Dialect

# asyncpg.Record: untyped (asyncpg ships no type information).
Record = Any


def utc(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC, as the SQLite engine does: every clock in the
    # daemon is UTC, and the server's time zone must not shift schedules by hours.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def conversation_from(r: Record) -> Conversation:
    return Conversation(
        id=r["id"], tenant=r["tenant"], channel=r["channel"], channel_key=r["channel_key"],
        language=r["language"], state=State(r["state"]), epoch=r["epoch"],
        handover_no=r["handover_no"], seq=r["seq"], agent_name=r["agent_name"],
        bot_escalations=r["bot_escalations"], context=json.loads(r["context"]),
        created_at=r["created_at"], updated_at=r["updated_at"], version=r["version"],
    )  # fmt: skip


def entry_from(r: Record) -> TranscriptEntry:
    return TranscriptEntry(
        conversation_id=r["conversation_id"], seq=r["seq"], party=Party(r["party"]),
        content=Content.from_json(json.loads(r["content"])), message_id=r["message_id"],
        sender_name=r["sender_name"], created_at=r["created_at"],
        handover_no=r["handover_no"],
    )  # fmt: skip


def outbox_row_from(r: Record) -> OutboxRow:
    return OutboxRow(
        id=r["id"], conversation_id=r["conversation_id"], tenant=r["tenant"],
        target=Target(r["target"]), kind=r["kind"], payload=json.loads(r["payload"]),
        epoch=r["epoch"], correlation_id=r["correlation_id"], created_at=r["created_at"],
        attempts=r["attempts"], in_flight=r["in_flight"], last_error=r["last_error"],
    )  # fmt: skip


def dead_letter_from(r: Record) -> DeadLetter:
    return DeadLetter(
        id=r["id"], conversation_id=r["conversation_id"], target=Target(r["target"]),
        kind=r["kind"], payload=json.loads(r["payload"]), reason=r["reason"],
        attempts=r["attempts"], created_at=r["created_at"], failed_at=r["failed_at"],
    )  # fmt: skip


def timer_from(r: Record) -> Timer:
    return Timer(r["conversation_id"], r["name"], r["due_at"], r["epoch"])


def survey_from(r: Record) -> SurveyAnswer:
    return SurveyAnswer(
        conversation_id=r["conversation_id"], tenant=r["tenant"], channel=r["channel"],
        handover_no=r["handover_no"], score=r["score"], comment=r["comment"],
        outcome=r["outcome"], answered_at=r["answered_at"],
    )  # fmt: skip


def _as_is(value: datetime) -> datetime:
    return value


#: The PostgreSQL spelling of the SQL both engines share (see store/dialect.py).
#: Times come back from asyncpg as UTC-aware datetimes already.
DIALECT = Dialect(
    numbered=True,
    lock_batch=" FOR UPDATE SKIP LOCKED",
    time_param=utc,
    time_value=_as_is,
    id_arrays=True,
)
