"""The callback request's transitions (handover/control/callback.py), step by step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from handover import control
from handover import events as ev
from handover.control import Env, Outcome, Policy, transition
from handover.control import effects as fx
from handover.control.address import contact_address
from handover.model import Content, Conversation, State

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
CID = "c" * 32
THREAD = f"{CID}-2"
POLICY = Policy(
    callback_enabled=True,
    callback_offer_when=frozenset({"outside_hours", "unavailable", "queue_timeout",
                                   "desk_failed"}),
    callback_timeout_seconds=120,
)
OPEN, CLOSED = Env(now=NOW), Env(now=NOW, within_hours=False)
SPOKEN = Env(now=NOW, within_hours=False, spoken=True, survey=False)
K = State.CALLBACK


def conv(state: State, **kw: Any) -> Conversation:
    base = Conversation(id=CID, tenant="t", channel="web", channel_key="k", language="nl",
                        state=state, epoch=5, handover_no=2)
    return replace(base, **kw)


def at_step(step: str, **data: Any) -> Conversation:
    return conv(K, context={"page": "x", "callback": {"step": step, "reason": "outside_hours",
                                                      **data}})


def says(text: str, payload: str | None = None, **context: Any) -> ev.CitizenMessage:
    return ev.CitizenMessage(conversation_id=CID, source="web", source_id="m",
                             content=Content(text), payload=payload, context=context)


def data_of(result: control.Transition) -> dict[str, Any]:
    value = result.conversation.context.get("callback")
    assert isinstance(value, dict)
    return value


def notices(result: control.Transition) -> list[str]:
    return [e.key for e in result.effects if isinstance(e, fx.Notify)]


def registrations(result: control.Transition) -> list[fx.RegisterCallback]:
    return [e for e in result.effects if isinstance(e, fx.RegisterCallback)]


# --- where it is offered ---------------------------------------------------------------


def test_outside_hours_offers_a_callback_after_the_hours() -> None:
    asked = ev.CitizenRequestsAgent(conversation_id=CID, source="web", source_id="a")
    result = transition(conv(State.BOT), asked, POLICY, CLOSED)
    assert result.conversation.state is K
    assert notices(result) == ["outside_hours", "callback_offer"]
    assert fx.CountCallback("offered", "outside_hours") in result.effects
    assert fx.SuggestQuestion() in result.effects
    assert fx.StartTimer(control.CALLBACK_TIMEOUT, 120) in result.effects
    assert data_of(result) == {"step": "consent", "reason": "outside_hours"}


def test_not_offered_when_disabled_or_not_for_this_moment() -> None:
    asked = ev.CitizenRequestsAgent(conversation_id=CID, source="web", source_id="a")
    for policy in (Policy(), replace(POLICY, callback_offer_when=frozenset({"unavailable"}))):
        result = transition(conv(State.BOT), asked, policy, CLOSED)
        assert result.conversation.state is State.BOT
        assert notices(result) == ["outside_hours"]


@pytest.mark.parametrize(("state", "event", "reason", "notice"), [
    (State.HANDOVER_PENDING,
     ev.AvailabilityChecked(conversation_id=CID, source="d", source_id="c", epoch=5,
                            available=False), "unavailable", "no_agents"),
    (State.QUEUED, ev.TimerFired(conversation_id=CID, source="t", source_id="t",
                                 name=control.QUEUE_TIMEOUT, epoch=5),
     "queue_timeout", "callback_intro_busy"),
    (State.AGENT, ev.DeskFailed(conversation_id=CID, source="d", source_id="f",
                                thread=THREAD, reason="gone"), "desk_failed", "desk_unavailable"),
    (State.HANDOVER_PENDING,
     ev.DeliveryFailed(conversation_id=CID, source="d", source_id="x", epoch=5,
                       kind="desk.check", reason="permanent"), "desk_failed", "desk_unavailable"),
])
def test_offered_where_no_person_can_be_reached(
    state: State, event: ev.Event, reason: str, notice: str
) -> None:
    result = transition(conv(state), event, POLICY, OPEN)
    assert result.conversation.state is K
    assert notices(result) == [notice, "callback_offer"]
    assert fx.CountCallback("offered", reason) in result.effects


def test_a_queue_timeout_with_a_callback_ends_the_thread_and_registers_the_contact() -> None:
    fired = ev.TimerFired(conversation_id=CID, source="t", source_id="t",
                          name=control.QUEUE_TIMEOUT, epoch=5)
    result = transition(conv(State.QUEUED), fired, replace(POLICY, queue_fallback="message"),
                        OPEN)
    assert fx.CloseThread("queue_timeout") in result.effects
    assert fx.RegisterContact("queue_timeout", False) in result.effects


# --- consent ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "payload"), [
    ("Ja, graag", "/callback_yes"), ("ja", None), ("Yes please!", None), ("oké", None),
])
def test_consent_yes_asks_how_to_reach_them(text: str, payload: str | None) -> None:
    result = transition(at_step("consent"), says(text, payload), POLICY, CLOSED)
    assert result.conversation.state is K
    assert data_of(result)["step"] == "address"
    assert notices(result) == ["callback_address"]
    assert fx.RecordCitizen(Content(text)) in result.effects


@pytest.mark.parametrize(("text", "payload"), [("Nee, dank u", "/callback_no"), ("nee", None),
                                               ("No.", None)])
def test_declining_stores_nothing(text: str, payload: str | None) -> None:
    result = transition(at_step("consent"), says(text, payload), POLICY, CLOSED)
    assert result.conversation.state is State.BOT
    assert "callback" not in result.conversation.context
    assert result.conversation.context == {"page": "x"}
    assert notices(result) == ["callback_declined"]
    assert fx.CountCallback("declined") in result.effects
    assert fx.CancelTimer(control.CALLBACK_TIMEOUT) in result.effects
    assert not registrations(result)


def test_something_else_than_an_answer_goes_to_the_bot() -> None:
    result = transition(at_step("consent"), says("Hoe laat is het?"), POLICY, CLOSED)
    assert result.conversation.state is State.BOT
    assert "callback" not in result.conversation.context
    assert any(isinstance(e, fx.AskBot) for e in result.effects)
    assert fx.CountCallback("declined") in result.effects


def test_on_a_call_the_callers_number_is_offered() -> None:
    start = at_step("consent")
    start = replace(start, context={**start.context, "caller_number": "0687654321"})
    result = transition(start, says("ja"), POLICY, SPOKEN)
    assert data_of(result)["step"] == "caller_number"
    [asked] = [e for e in result.effects if isinstance(e, fx.Notify)]
    assert asked.key == "callback_caller_number" and asked.params == {"digits": "21"}
    taken = transition(result.conversation, says("ja"), POLICY, SPOKEN)
    assert data_of(taken)["address"] == "+31687654321"
    assert data_of(taken)["step"] == "name"


def test_on_a_call_another_number_can_be_given() -> None:
    step = at_step("caller_number", caller="+31687654321")
    other = transition(step, says("nee", "/callback_no"), POLICY, SPOKEN)
    assert data_of(other)["step"] == "address" and "caller" not in data_of(other)
    assert notices(other) == ["callback_address_spoken"]
    straight = transition(step, says("nul zes"), POLICY, SPOKEN)
    assert data_of(straight)["step"] == "address"
    said = transition(step, says("06 11 22 33 44"), POLICY, SPOKEN)
    assert data_of(said)["address"] == "+31611223344"


# --- how to reach them -------------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind", "address"), [
    ("06-12345678", "phone", "+31612345678"),
    ("+31 6 1234 5678", "phone", "+31612345678"),
    ("030 286 0000", "phone", "+31302860000"),
    ("+32 470 12 34 56", "phone", "+32470123456"),
    ("jan@voorbeeld.nl", "email", "jan@voorbeeld.nl"),
])
def test_a_good_address_is_normalised(text: str, kind: str, address: str) -> None:
    result = transition(at_step("address"), says(text), POLICY, CLOSED)
    assert (data_of(result)["address_kind"], data_of(result)["address"]) == (kind, address)
    assert data_of(result)["step"] == "name"
    assert notices(result) == ["callback_name"]


@pytest.mark.parametrize("text", ["06 1234", "123456789012345678", "jan@", "jan @ x.nl",
                                  "morgen", "14 030", ""])
def test_a_bad_address_is_asked_again(text: str) -> None:
    result = transition(at_step("address"), says(text), POLICY, CLOSED)
    assert result.conversation.state is K
    assert data_of(result)["step"] == "address" and "address" not in data_of(result)
    assert notices(result) == ["callback_address_invalid"]
    assert fx.StartTimer(control.CALLBACK_TIMEOUT, 120) in result.effects


def test_on_a_call_only_a_phone_number_is_taken() -> None:
    result = transition(at_step("address"), says("jan@voorbeeld.nl"), POLICY, SPOKEN)
    assert notices(result) == ["callback_address_invalid_spoken"]
    assert contact_address("jan@voorbeeld.nl", phone_only=True) is None


def test_without_asking_the_name_the_question_comes_next() -> None:
    policy = replace(POLICY, callback_ask_name=False)
    result = transition(at_step("address"), says("0612345678"), policy, CLOSED)
    assert data_of(result)["step"] == "question"


# --- name and question -------------------------------------------------------------------


@pytest.mark.parametrize(("text", "payload", "name"), [
    ("Jan  Jansen ", None, "Jan Jansen"), ("Overslaan", "/skip", None), ("skip", None, None),
    ("x" * 300, None, "x" * 100),
])
def test_the_name_is_optional(text: str, payload: str | None, name: str | None) -> None:
    result = transition(at_step("name"), says(text, payload), POLICY, CLOSED)
    assert data_of(result)["name"] == name
    assert data_of(result)["step"] == "question"
    assert notices(result) == ["callback_question"]


def test_the_last_question_is_offered_as_a_choice() -> None:
    result = transition(at_step("name", suggested="Mijn paspoort is verlopen"), says("Jan"),
                        POLICY, CLOSED)
    [asked] = [e for e in result.effects if isinstance(e, fx.Notify)]
    assert asked.key == "callback_question_suggested"
    assert asked.params == {"question": "Mijn paspoort is verlopen"}
    assert asked.buttons == (("callback_same_label", "/callback_same"),)


def _completed(step: Conversation, msg: ev.CitizenMessage) -> fx.RegisterCallback:
    result = transition(step, msg, POLICY, CLOSED)
    assert result.conversation.state is State.BOT
    assert result.conversation.context == {"page": "x"}
    assert fx.CountCallback("completed") in result.effects
    assert fx.CancelTimer(control.CALLBACK_TIMEOUT) in result.effects
    [registered] = registrations(result)
    return registered


def test_completing_registers_once_with_the_chosen_question() -> None:
    given = {"address_kind": "phone", "address": "+31612345678", "name": "Jan",
             "suggested": "Mijn paspoort is verlopen"}
    same = _completed(at_step("question", **given), says("Deze vraag", "/callback_same"))
    assert same == fx.RegisterCallback("phone", "+31612345678", "Mijn paspoort is verlopen",
                                       "Jan")
    typed = _completed(at_step("question", **given), says("Ik ben mijn rijbewijs kwijt"))
    assert typed.question == "Ik ben mijn rijbewijs kwijt"
    spoken_yes = _completed(at_step("question", **given), says("ja"))
    assert spoken_yes.question == "Mijn paspoort is verlopen"


def test_an_empty_question_is_asked_again() -> None:
    result = transition(at_step("question", address="+31612345678"), says("  "), POLICY, CLOSED)
    assert result.conversation.state is K and not registrations(result)


# --- stop, timeout, leaving ------------------------------------------------------------------


@pytest.mark.parametrize("step", ["consent", "caller_number", "address", "name", "question"])
@pytest.mark.parametrize("word", ["stop", "Stoppen", "annuleer", "cancel"])
def test_stop_works_at_every_step_and_stores_nothing(step: str, word: str) -> None:
    result = transition(at_step(step, address="+31612345678"), says(word), POLICY, CLOSED)
    assert result.conversation.state is State.BOT
    assert result.conversation.context == {"page": "x"}
    assert notices(result) == ["callback_stopped"]
    assert not registrations(result)
    counted = "declined" if step == "consent" else "abandoned"
    assert fx.CountCallback(counted) in result.effects


@pytest.mark.parametrize("step", ["consent", "address", "name", "question"])
def test_a_step_timeout_abandons(step: str) -> None:
    fired = ev.TimerFired(conversation_id=CID, source="t", source_id="t",
                          name=control.CALLBACK_TIMEOUT, epoch=5)
    result = transition(at_step(step, address="+31612345678"), fired, POLICY, CLOSED)
    assert result.outcome is Outcome.APPLIED
    assert result.conversation.state is State.BOT
    assert result.conversation.context == {"page": "x"}
    assert notices(result) == ["callback_abandoned"]
    assert not registrations(result)


def test_a_timer_of_an_earlier_epoch_is_stale() -> None:
    fired = ev.TimerFired(conversation_id=CID, source="t", source_id="t",
                          name=control.CALLBACK_TIMEOUT, epoch=4)
    assert transition(at_step("name"), fired, POLICY, CLOSED).outcome is Outcome.STALE


def test_leaving_closes_and_forgets() -> None:
    left = ev.CitizenLeft(conversation_id=CID, source="web", source_id="l")
    result = transition(at_step("question", address="+31612345678"), left, POLICY, CLOSED)
    assert result.conversation.state is State.CLOSED
    assert "callback" not in result.conversation.context
    assert fx.CountCallback("abandoned") in result.effects


def test_asking_for_a_person_again_repeats_the_question() -> None:
    asked = ev.CitizenRequestsAgent(conversation_id=CID, source="web", source_id="a")
    result = transition(at_step("address"), asked, POLICY, CLOSED)
    assert result.conversation.state is K and notices(result) == ["callback_address"]


def test_a_failed_registration_changes_nothing_for_the_citizen() -> None:
    for kind in ("registry.callback", "registry.contact"):
        failed = ev.DeliveryFailed(conversation_id=CID, source="delivery", source_id="d",
                                   epoch=5, kind=kind, reason="permanent")
        for state in (State.BOT, K, State.AGENT):
            result = transition(conv(state, context={}), failed, POLICY, OPEN)
            assert result.outcome is Outcome.STALE and result.effects == ()


# --- finished contacts ---------------------------------------------------------------------


def test_ending_a_human_stretch_registers_the_contact() -> None:
    closed = ev.AgentClosed(conversation_id=CID, source="d", source_id="c", thread=THREAD,
                            outcome="resolved", summary="Paspoort aangevraagd")
    result = transition(conv(State.AGENT, agent_name="Sanne"), closed, POLICY, OPEN)
    assert fx.RegisterContact("resolved", True, "Sanne", "Paspoort aangevraagd") in result.effects
    left = ev.CitizenLeft(conversation_id=CID, source="web", source_id="l")
    result = transition(conv(State.QUEUED), left, POLICY, OPEN)
    assert fx.RegisterContact("citizen_left", False, None, None) in result.effects
    answered = ev.TransferStatus(conversation_id=CID, source="p", source_id="s", answered=True)
    result = transition(conv(State.TRANSFER), answered, POLICY, OPEN)
    assert fx.RegisterContact("transferred", True) in result.effects


def test_the_agents_desk_id_is_kept_for_the_contact() -> None:
    joined = ev.AgentJoined(conversation_id=CID, source="d", source_id="j", thread=THREAD,
                            agent_name="Sanne", agent_id="emp-7")
    result = transition(conv(State.QUEUED, context={"agent_id": "earlier"}), joined, POLICY, OPEN)
    assert result.conversation.context["agent_id"] == "emp-7"
    joined = replace(joined, agent_id=None)
    result = transition(conv(State.QUEUED, context={"agent_id": "earlier"}), joined, POLICY, OPEN)
    assert "agent_id" not in result.conversation.context


def test_an_agent_who_takes_over_is_the_one_registered() -> None:
    held = conv(State.AGENT, agent_name="Sanne", context={"agent_id": "sanne"})
    # Another agent picks the thread up (after it went back to the queue), with an id.
    joined = ev.AgentJoined(conversation_id=CID, source="d", source_id="j2", thread=THREAD,
                            agent_name="Ahmed", agent_id="ahmed")
    result = transition(held, joined, POLICY, OPEN)
    assert (result.conversation.agent_name, result.conversation.context["agent_id"]) == (
        "Ahmed", "ahmed")
    # A transfer to a named colleague, with the colleague's id.
    moved = ev.AgentTransferred(conversation_id=CID, source="d", source_id="t", thread=THREAD,
                                agent_name="Ahmed", agent_id="ahmed")
    result = transition(held, moved, POLICY, OPEN)
    assert result.conversation.context["agent_id"] == "ahmed"
    # Taken over without an id: nobody is linked rather than the wrong person.
    result = transition(held, replace(moved, agent_id=None), POLICY, OPEN)
    assert result.conversation.agent_name == "Ahmed"
    assert "agent_id" not in result.conversation.context
    # Back to the queue (no new name): the holder so far stays.
    result = transition(held, replace(moved, agent_name=None, agent_id=None), POLICY, OPEN)
    assert result.conversation.context["agent_id"] == "sanne"
