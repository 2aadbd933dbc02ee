"""Typed outbox payloads: every kind round-trips, and rows stored today still decode."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from handover import events as ev
from handover.config.model import DEFAULT_MAX_AGE_SECONDS
from handover.engine.outbox import (
    OPERATIONS,
    BotHandbackPayload,
    BotTurnPayload,
    CitizenMessagePayload,
    CitizenStatePayload,
    CitizenTransferPayload,
    DeskCheckPayload,
    DeskClosePayload,
    DeskMessagePayload,
    DeskNotePayload,
    DeskOpenPayload,
    OutboxKind,
    OutboxPayload,
    RegistryCallbackPayload,
    RegistryContactPayload,
    decode,
    outbox_item,
)
from handover.model import (
    Button,
    Content,
    Conversation,
    HandoverSignal,
    OutboxRow,
    Party,
    State,
    Target,
    TranscriptEntry,
)
from handover.sdk.contracts import Availability, BotResponse, DeskReceipt
from handover.sdk.keys import desk_message_key
from handover.sdk.registration import (
    AddressKind,
    CallbackRequest,
    ContactRecord,
    RegistrationReceipt,
    RegistrationTarget,
)

CONV = "c0ffee"
AT = datetime(2024, 5, 6, 10, 30, tzinfo=UTC)
# Entries travel without their handover number, so samples keep the default 0.
ENTRY = TranscriptEntry(
    conversation_id=CONV,
    seq=3,
    party=Party.CITIZEN,
    content=Content(text="Mijn paspoort", buttons=(Button("Ja", "/yes"),)),
    message_id="m-3",
    sender_name=None,
    created_at=AT,
)
SIGNAL = HandoverSignal(reason="bot", topic="paspoort", queue="burgerzaken", details={"a": 1})
CALLBACK = CallbackRequest(
    request_id="0" * 32, reference="K7M2QP", tenant="t", conversation_id=CONV,
    channel="web", channel_type="web", language="nl", placed_at=AT,
    address_kind=AddressKind.PHONE, address="+31612345678", question="Mijn paspoort",
    name="Jan", topic="paspoort", topic_label=None, callback_after=AT,
    callback_text="morgen vanaf 08:30",
)
CONTACT = ContactRecord(
    record_id=f"{CONV}-1", tenant="t", conversation_id=CONV, channel="web",
    channel_type="web", language="nl", started_at=AT, ended_at=AT, outcome="resolved",
    succeeded=True, topic="paspoort", agent_name="Sanne", agent_id="a-1", content="paspoort",
    transcript=(ENTRY,),
)

SAMPLES: dict[OutboxKind, OutboxPayload] = {
    OutboxKind.CITIZEN_MESSAGE: CitizenMessagePayload(ENTRY),
    OutboxKind.CITIZEN_STATE: CitizenStatePayload(State.QUEUED, None, 2, 60),
    OutboxKind.CITIZEN_TRANSFER: CitizenTransferPayload(handover_no=2, signal=SIGNAL),
    OutboxKind.BOT_TURN: BotTurnPayload(
        message_id="m-3", text="hoi", payload="/greet", language="nl",
        metadata={"tenant": "t", "channel": "web", "language": "nl", "context": {}},
    ),
    OutboxKind.BOT_HANDBACK: BotHandbackPayload(outcome="resolved"),
    OutboxKind.DESK_CHECK: DeskCheckPayload(queue="burgerzaken"),
    OutboxKind.DESK_OPEN: DeskOpenPayload(
        thread=f"{CONV}-1", signal=SIGNAL, language="en", context={"topic": "x"},
        transcript=(ENTRY, ENTRY), queued_at=AT,
    ),
    OutboxKind.DESK_MESSAGE: DeskMessagePayload(thread=f"{CONV}-1", message=ENTRY),
    OutboxKind.DESK_NOTE: DeskNotePayload(thread=f"{CONV}-1", text="Let op"),
    OutboxKind.DESK_CLOSE: DeskClosePayload(thread=f"{CONV}-1", reason="citizen_left"),
    OutboxKind.REGISTRY_CALLBACK: RegistryCallbackPayload(target="openklant", request=CALLBACK),
    OutboxKind.REGISTRY_CONTACT: RegistryContactPayload(target="openklant", record=CONTACT),
}


def _stored(payload: dict[str, Any]) -> str:
    """The payload as the stores write it (see handover.store.*.rows)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def test_every_kind_has_a_sample_an_operation_and_a_max_age() -> None:
    assert set(SAMPLES) == set(OutboxKind)
    assert set(OPERATIONS) == {k.value for k in OutboxKind}
    # citizen.transfer has no default max age (a transfer is never expired).
    assert set(DEFAULT_MAX_AGE_SECONDS) == {k.value for k in OutboxKind} - {"citizen.transfer"}
    for kind, op in OPERATIONS.items():
        assert op.kind.value == kind


@pytest.mark.parametrize("kind", list(OutboxKind))
def test_encode_then_decode_gives_the_payload_back(kind: OutboxKind) -> None:
    payload = SAMPLES[kind]
    stored = _stored(payload.encode())
    assert decode(kind, json.loads(stored), CONV) == payload
    item = outbox_item(CONV, payload, 4, "corr")
    assert (item.kind, item.target, item.epoch) == (kind.value, kind.target, 4)
    assert type(item.kind) is str  # rows hold plain strings


def test_kind_targets() -> None:
    assert OutboxKind.CITIZEN_TRANSFER.target is Target.CITIZEN
    assert OutboxKind.BOT_TURN.target is Target.BOT
    assert OutboxKind.DESK_NOTE.target is Target.DESK
    assert OutboxKind.REGISTRY_CALLBACK.target is Target.REGISTRY
    assert OutboxKind.REGISTRY_CONTACT.target is Target.REGISTRY


_ENTRY_ROW = (
    '{"seq":3,"message_id":"m-3","party":"citizen","sender_name":null,'
    '"content":{"text":"Mijn paspoort","buttons":[{"title":"Ja","payload":"/yes"}]},'
    '"created_at":"2024-05-06T10:30:00+00:00"}'
)
_SIGNAL_ROW = (
    '{"reason":"bot","topic":"paspoort","queue":"burgerzaken","language":null,'
    '"consent":true,"details":{"a":1}}'
)
#: Payloads exactly as rows hold them before the typed payloads: they must decode to
#: the samples and encode back to the same bytes.
TODAYS_ROWS: dict[OutboxKind, str] = {
    OutboxKind.CITIZEN_MESSAGE: _ENTRY_ROW,
    OutboxKind.CITIZEN_STATE: (
        '{"state":"queued","agent_name":null,"queue_position":2,"estimated_wait_seconds":60}'
    ),
    OutboxKind.CITIZEN_TRANSFER: f'{{"handover_no":2,"signal":{_SIGNAL_ROW}}}',
    OutboxKind.BOT_TURN: (
        '{"message_id":"m-3","text":"hoi","payload":"/greet","language":"nl",'
        '"metadata":{"tenant":"t","channel":"web","language":"nl","context":{}}}'
    ),
    OutboxKind.BOT_HANDBACK: '{"outcome":"resolved"}',
    OutboxKind.DESK_CHECK: '{"queue":"burgerzaken"}',
    OutboxKind.DESK_OPEN: (
        f'{{"thread":"{CONV}-1","signal":{_SIGNAL_ROW},"language":"en",'
        f'"context":{{"topic":"x"}},"transcript":[{_ENTRY_ROW},{_ENTRY_ROW}],'
        '"queued_at":"2024-05-06T10:30:00+00:00"}'
    ),
    OutboxKind.DESK_MESSAGE: f'{{"thread":"{CONV}-1","message":{_ENTRY_ROW}}}',
    OutboxKind.DESK_NOTE: f'{{"thread":"{CONV}-1","text":"Let op"}}',
    OutboxKind.DESK_CLOSE: f'{{"thread":"{CONV}-1","reason":"citizen_left"}}',
    OutboxKind.REGISTRY_CALLBACK: (
        '{"target":"openklant","request":{"request_id":"' + "0" * 32 + '",'
        '"reference":"K7M2QP","tenant":"t",'
        f'"conversation_id":"{CONV}","channel":"web","channel_type":"web","language":"nl",'
        '"placed_at":"2024-05-06T10:30:00+00:00","address_kind":"phone",'
        '"address":"+31612345678","question":"Mijn paspoort","name":"Jan",'
        '"topic":"paspoort","topic_label":null,'
        '"callback_after":"2024-05-06T10:30:00+00:00","callback_text":"morgen vanaf 08:30"}}'
    ),
    OutboxKind.REGISTRY_CONTACT: (
        f'{{"target":"openklant","record":{{"record_id":"{CONV}-1","tenant":"t",'
        f'"conversation_id":"{CONV}","channel":"web","channel_type":"web","language":"nl",'
        '"started_at":"2024-05-06T10:30:00+00:00","ended_at":"2024-05-06T10:30:00+00:00",'
        '"outcome":"resolved","succeeded":true,"topic":"paspoort","topic_label":null,'
        '"agent_name":"Sanne","agent_id":"a-1","content":"paspoort",'
        f'"transcript":[{_ENTRY_ROW}]}}}}'
    ),
}


@pytest.mark.parametrize("kind", list(OutboxKind))
def test_rows_in_todays_format_decode_and_encode_byte_for_byte(kind: OutboxKind) -> None:
    row = TODAYS_ROWS[kind]
    payload = decode(kind.value, json.loads(row), CONV)
    assert payload == SAMPLES[kind]
    assert _stored(payload.encode()) == row


def test_rows_missing_optional_keys_take_the_old_defaults() -> None:
    # Rows written before desk.open carried queued_at, signal or language.
    old = decode("desk.open", {"thread": "c-1"}, CONV)
    assert old == DeskOpenPayload(thread="c-1", signal=HandoverSignal(), language="")
    turn = decode("bot.turn", {"message_id": "m"}, CONV)
    assert turn == BotTurnPayload(message_id="m", text="", payload=None, language="")
    assert decode("desk.close", {"thread": "c-1"}, CONV) == DeskClosePayload("c-1", "")


def test_an_unknown_kind_is_not_decoded() -> None:
    with pytest.raises(KeyError):
        decode("citizen.typing", {}, CONV)


# --- delivery operations ------------------------------------------------------------


def _row(kind: OutboxKind, payload: str) -> OutboxRow:
    return OutboxRow(
        id=7, conversation_id=CONV, tenant="t", target=kind.target, kind=kind.value,
        payload=json.loads(payload), epoch=5, correlation_id="corr", created_at=AT,
        attempts=0, in_flight=False,
    )


class _Recorder:
    """Stands in for any adapter: records each call and answers what the kind expects."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, method: str) -> Any:
        async def call(*args: Any) -> Any:
            # Every method but availability and the registrations takes the
            # conversation first.
            whole = method == "availability" or method.startswith("register_")
            self.calls.append((method, args if whole else args[1:]))
            return {
                "turn": BotResponse(messages=(Content(text="ok"),)),
                "availability": Availability(available=True, queue_length=1),
                "open_thread": DeskReceipt(desk_message_id="d-1"),
                "send": DeskReceipt(desk_message_id=None),
                "note": DeskReceipt(desk_message_id=None),
                "register_callback": RegistrationReceipt("kc-1"),
                "register_contact": RegistrationReceipt(),
            }.get(method)
        return call


# It answers registrations too: let the registry operations take it for a target.
RegistrationTarget.register(_Recorder)


async def test_old_rows_deliver_through_the_adapter() -> None:
    conv = Conversation(id=CONV, tenant="t", channel="web", channel_key="k", language="nl")
    sent: dict[str, Any] = {}
    for kind, stored in TODAYS_ROWS.items():
        adapter: Any = _Recorder()
        result = await OPERATIONS[kind].deliver(adapter, conv, _row(kind, stored))
        [(method, args)] = adapter.calls
        sent[kind] = (method, args, result)
    method, (message,), _ = sent[OutboxKind.CITIZEN_MESSAGE]
    assert method == "deliver" and message.seq == 3 and message.created_at == AT
    method, (thread,), result = sent[OutboxKind.DESK_OPEN]
    assert method == "open_thread" and thread.transcript == (ENTRY, ENTRY)
    assert (thread.language, thread.queued_at, thread.signal) == ("en", AT, SIGNAL)
    assert result.echo_key == ("fake", desk_message_key("d-1"))
    assert sent[OutboxKind.DESK_MESSAGE][2].echo_key is None
    _, (turn,), result = sent[OutboxKind.BOT_TURN]
    assert (turn.text, turn.payload, turn.language) == ("hoi", "/greet", "nl")
    assert isinstance(result.follow_up, ev.BotReplied)
    assert result.follow_up.dedup_key == ("fake", "turn:7") and result.follow_up.epoch == 5
    _, (tenant, queue), result = sent[OutboxKind.DESK_CHECK]
    assert (tenant, queue) == ("t", "burgerzaken")
    assert isinstance(result.follow_up, ev.AvailabilityChecked)
    assert result.follow_up.dedup_key == ("delivery", "check:7")
    assert sent[OutboxKind.DESK_CLOSE][:2] == ("close_thread", (f"{CONV}-1", "citizen_left"))
    assert sent[OutboxKind.REGISTRY_CALLBACK][:2] == ("register_callback", (CALLBACK,))
    assert sent[OutboxKind.REGISTRY_CONTACT][:2] == ("register_contact", (CONTACT,))


async def test_an_empty_language_means_the_conversations() -> None:
    conv = Conversation(id=CONV, tenant="t", channel="web", channel_key="k", language="en")
    adapter: Any = _Recorder()
    row = _row(OutboxKind.BOT_TURN, '{"message_id":"m"}')
    await OPERATIONS["bot.turn"].deliver(adapter, conv, row)
    [(_, (turn,))] = adapter.calls
    assert turn.language == "en"
