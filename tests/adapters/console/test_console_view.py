"""What the console's list and details are told: the topic in words, the last message,
and whether consent was asked (not only what the handover signal defaults to)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.console.journal import Status, ThreadRow
from adapters.console.view import (
    CONSENT_YES_PAYLOAD,
    consent_asked,
    detail,
    last_message,
    summary,
    topic_label,
)
from handover.control.types import CONSENT_BUTTONS, CONSENT_YES
from handover.model import (
    Button,
    Content,
    Conversation,
    HandoverSignal,
    Party,
    State,
    TranscriptEntry,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def entry(seq: int, party: Party, text: str, handover_no: int = 0,
          buttons: tuple[Button, ...] = ()) -> TranscriptEntry:
    return TranscriptEntry(conversation_id="c1", seq=seq, party=party,
                           content=Content(text=text, buttons=buttons), message_id=f"m{seq}",
                           created_at=NOW, handover_no=handover_no)


def row(signal: dict[str, Any] | None) -> ThreadRow:
    return ThreadRow(thread_id="c1-1", conversation_id="c1", tenant="demo", channel="web",
                     language="nl", signal=signal, context={}, opened_at=NOW,
                     status=Status.QUEUED)


def conversation() -> Conversation:
    return Conversation(id="c1", tenant="demo", channel="web", channel_key="k",
                        language="nl", state=State.QUEUED, handover_no=1)


QUESTION = (Button("Ja, graag", CONSENT_YES_PAYLOAD), Button("Nee, liever niet", "/consent_no"))


def test_the_consent_payload_is_the_daemons() -> None:
    assert CONSENT_YES_PAYLOAD == CONSENT_YES
    assert CONSENT_YES in [payload for _, payload in CONSENT_BUTTONS]


def test_the_topic_in_words_from_the_bot_else_the_key_made_readable() -> None:
    assert topic_label({"topic": "waste", "details": {"topic_label": "Afval ophalen"}}) == \
        "Afval ophalen"
    assert topic_label({"topic": "parking_permit"}) == "Parking permit"
    assert topic_label({"topic": "waste", "details": {"topic_label": "  "}}) == "Waste"
    assert topic_label({"topic": None}) is None
    assert topic_label({}) is None


def test_consent_counts_as_asked_only_when_the_daemon_asked_before_this_handover() -> None:
    asked = [entry(1, Party.CITIZEN, "medewerker"),
             entry(2, Party.SYSTEM, "Wilt u verder chatten?", 0, QUESTION),
             entry(3, Party.CITIZEN, "ja", 1)]
    assert consent_asked(asked, 1)
    # Asked before the first handover, not before the second.
    assert not consent_asked(asked, 2)
    # Never asked: the signal's consent defaults to yes, which says nothing.
    assert not consent_asked([entry(1, Party.CITIZEN, "medewerker")], 1)
    # A recovered thread has no number to tell by.
    assert not consent_asked(asked, 0)


def test_the_detail_says_whether_consent_was_asked() -> None:
    signal = HandoverSignal(topic="waste").to_json()
    asked = [entry(1, Party.SYSTEM, "Wilt u verder chatten?", 0, QUESTION)]
    d = detail(row(signal), conversation(), asked, [], NOW)
    assert (d["consent"], d["consent_asked"], d["topic_label"]) == (True, True, "Waste")
    d = detail(row(signal), conversation(), [entry(1, Party.CITIZEN, "hoi")], [], NOW)
    assert (d["consent"], d["consent_asked"]) == (True, False)


def test_the_last_message_is_what_a_person_said_not_the_queue_notice() -> None:
    items = [
        {"party": "citizen", "text": "Mijn  container\nis niet geleegd", "sender_name": None,
         "created_at": "t1", "attachments": []},
        {"party": "system", "text": "U staat in de wachtrij.", "created_at": "t2"},
    ]
    assert last_message(items) == {"party": "citizen", "sender_name": None,
                                   "text": "Mijn container is niet geleegd", "attachments": 0,
                                   "created_at": "t1"}
    # With nothing but standard lines, the last of those.
    assert last_message(items[1:])["text"] == "U staat in de wachtrij."  # type: ignore[index]
    long = last_message([{"party": "agent", "text": "x" * 500, "sender_name": "Sanne"}])
    assert long is not None and len(long["text"]) == 140 and long["text"].endswith("…")
    assert last_message([]) is None


def test_the_summary_carries_the_name_and_last_message_when_the_caller_has_them() -> None:
    plain = summary(row({"topic": "waste"}), conversation(), NOW)
    assert (plain["tenant_name"], plain["last_message"]) == (None, None)
    last = {"party": "citizen", "text": "hallo"}
    named = summary(row({"topic": "waste"}), conversation(), NOW,
                    tenant_name="Gemeente Voorbeeld", last=last)
    assert (named["tenant_name"], named["last_message"]) == ("Gemeente Voorbeeld", last)
