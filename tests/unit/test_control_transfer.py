"""Handover as a call transfer (handover/control/transfer.py), on a channel that
declares the `transfer` capability."""

from __future__ import annotations

from datetime import UTC, datetime

from handover import control
from handover import events as ev
from handover.control import Env, Outcome, Policy, transition
from handover.control import effects as fx
from handover.model import Content, Conversation, HandoverSignal, State

CID = "c0ffee"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PHONE = Env(now=NOW, transfer=True, survey=False)
POLICY = Policy()


def conv(state: State = State.BOT, **kw: object) -> Conversation:
    return Conversation(
        id=CID, tenant="t", channel="phone", channel_key="call-1", language="nl",
        state=state, epoch=5, handover_no=1, **kw,  # type: ignore[arg-type]
    )


def k(**kw: object) -> dict[str, object]:
    return {"conversation_id": CID, "source": "phone", "source_id": "a1", **kw}


def of(result: control.Transition, kind: type) -> list[object]:
    return [e for e in result.effects if isinstance(e, kind)]


def notices(result: control.Transition) -> list[str]:
    return [e.key for e in result.effects if isinstance(e, fx.Notify)]


def test_bot_handover_on_a_phone_channel_transfers_instead_of_queueing() -> None:
    signal = HandoverSignal(reason="bot", queue="afval")
    reply = ev.BotReplied(**k(epoch=5, messages=(Content("Ik verbind u door."),), handover=signal))
    result = transition(conv(), reply, POLICY, PHONE)
    after = result.conversation
    assert after.state is State.TRANSFER
    assert after.handover_no == 2 and after.epoch == 6
    assert of(result, fx.Transfer) == [fx.Transfer(signal)]
    # No desk is involved: no availability check, no desk thread.
    assert not of(result, fx.CheckAvailability) and not of(result, fx.OpenThread)
    assert notices(result) == ["transferring"]
    assert after.desk_thread is None


def test_outside_hours_the_caller_hears_the_hours_and_no_transfer_starts() -> None:
    closed = Env(now=NOW, within_hours=False, transfer=True, survey=False)
    result = transition(conv(), ev.CitizenRequestsAgent(**k()), POLICY, closed)
    assert result.conversation.state is State.BOT
    assert notices(result) == ["outside_hours"]
    assert not of(result, fx.Transfer)


def test_consent_is_asked_before_a_transfer_when_the_tenant_wants_it() -> None:
    policy = Policy(consent="daemon")
    asked = transition(conv(), ev.CitizenRequestsAgent(**k()), policy, PHONE)
    assert asked.conversation.state is State.CONSENT
    yes = ev.CitizenMessage(**k(source_id="a2", content=Content("ja")))
    result = transition(asked.conversation, yes, policy, PHONE)
    assert result.conversation.state is State.TRANSFER
    assert len(of(result, fx.Transfer)) == 1


def test_answered_transfer_closes_the_conversation_as_transferred() -> None:
    status = ev.TransferStatus(**k(answered=True))
    result = transition(conv(State.TRANSFER), status, POLICY, PHONE)
    assert result.conversation.state is State.CLOSED
    assert result.conversation.context["outcome"] == "transferred"
    assert of(result, fx.CountHandover) == [fx.CountHandover("transferred")]


def test_failed_transfer_goes_back_to_the_bot_with_an_apology() -> None:
    status = ev.TransferStatus(**k(answered=False, reason="busy"))
    result = transition(conv(State.TRANSFER), status, POLICY, PHONE)
    assert result.conversation.state is State.BOT
    assert notices(result) == ["transfer_failed"]


def test_failed_transfer_with_goodbye_ends_the_call() -> None:
    status = ev.TransferStatus(**k(answered=False, fallback="goodbye"))
    result = transition(conv(State.TRANSFER), status, POLICY, PHONE)
    assert result.conversation.state is State.CLOSED
    assert notices(result) == ["transfer_goodbye"]


def test_transfer_status_after_the_transfer_is_over_is_stale() -> None:
    status = ev.TransferStatus(**k(answered=False))
    result = transition(conv(State.BOT), status, POLICY, PHONE)
    assert result.outcome is Outcome.STALE and result.effects == ()


def test_caller_speaking_during_the_transfer_is_recorded_but_not_sent_to_the_bot() -> None:
    said = ev.CitizenMessage(**k(content=Content("hallo?")))
    result = transition(conv(State.TRANSFER), said, POLICY, PHONE)
    assert result.conversation.state is State.TRANSFER
    assert of(result, fx.RecordCitizen) and not of(result, fx.AskBot)


def test_a_transfer_the_channel_could_not_start_returns_to_the_bot() -> None:
    failed = ev.DeliveryFailed(**k(epoch=5, kind="citizen.transfer", reason="permanent"))
    result = transition(conv(State.TRANSFER), failed, POLICY, PHONE)
    assert result.conversation.state is State.BOT
    assert notices(result) == ["transfer_failed"]


def test_no_survey_on_a_spoken_channel() -> None:
    closed = ev.AgentClosed(**k(thread=f"{CID}-1"))
    spoken = transition(conv(State.AGENT), closed, POLICY, PHONE)
    assert spoken.conversation.state is State.BOT
    assert "survey_question" not in notices(spoken)
    written = transition(conv(State.AGENT), closed, POLICY, Env(now=NOW))
    assert written.conversation.state is State.SURVEY
