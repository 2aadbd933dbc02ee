"""Values to SQLite columns and rows back to model values, for the SQLite engine.

Times are stored as epoch seconds (REAL): they compare and index as numbers, and a
double holds today's timestamps to well under a microsecond, so they round-trip.
"""

from __future__ import annotations

import json
import sqlite3
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


def to_ts(value: datetime) -> float:
    # Naive datetimes are taken as UTC rather than local time: every clock in the
    # daemon is UTC, and local time would silently shift schedules by hours.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def from_ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def conversation_from(r: sqlite3.Row) -> Conversation:
    return Conversation(
        id=r["id"], tenant=r["tenant"], channel=r["channel"], channel_key=r["channel_key"],
        language=r["language"], state=State(r["state"]), epoch=r["epoch"],
        handover_no=r["handover_no"], seq=r["seq"], agent_name=r["agent_name"],
        bot_escalations=r["bot_escalations"], context=json.loads(r["context"]),
        created_at=from_ts(r["created_at"]), updated_at=from_ts(r["updated_at"]),
        version=r["version"],
    )  # fmt: skip


def entry_from(r: sqlite3.Row) -> TranscriptEntry:
    return TranscriptEntry(
        conversation_id=r["conversation_id"], seq=r["seq"], party=Party(r["party"]),
        content=Content.from_json(json.loads(r["content"])), message_id=r["message_id"],
        sender_name=r["sender_name"], created_at=from_ts(r["created_at"]),
        handover_no=r["handover_no"],
    )  # fmt: skip


def outbox_row_from(r: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        id=r["id"], conversation_id=r["conversation_id"], tenant=r["tenant"],
        target=Target(r["target"]), kind=r["kind"], payload=json.loads(r["payload"]),
        epoch=r["epoch"], correlation_id=r["correlation_id"], created_at=from_ts(r["created_at"]),
        attempts=r["attempts"], in_flight=bool(r["in_flight"]), last_error=r["last_error"],
    )  # fmt: skip


def dead_letter_from(r: sqlite3.Row) -> DeadLetter:
    return DeadLetter(
        id=r["id"], conversation_id=r["conversation_id"], target=Target(r["target"]),
        kind=r["kind"], payload=json.loads(r["payload"]), reason=r["reason"],
        attempts=r["attempts"], created_at=from_ts(r["created_at"]),
        failed_at=from_ts(r["failed_at"]),
    )  # fmt: skip


def timer_from(r: sqlite3.Row) -> Timer:
    return Timer(r["conversation_id"], r["name"], from_ts(r["due_at"]), r["epoch"])


def survey_from(r: sqlite3.Row) -> SurveyAnswer:
    return SurveyAnswer(
        conversation_id=r["conversation_id"], tenant=r["tenant"], channel=r["channel"],
        handover_no=r["handover_no"], score=r["score"], comment=r["comment"],
        outcome=r["outcome"], answered_at=from_ts(r["answered_at"]),
    )  # fmt: skip


#: The SQLite spelling of the SQL both engines share (see store/dialect.py).
DIALECT = Dialect(
    numbered=False, lock_batch="", time_param=to_ts, time_value=from_ts, id_arrays=False
)
