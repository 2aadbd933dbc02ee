"""Table-driven tests of the pure control state machine: every (state, event) pair."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from handover import control
from handover import events as ev
from handover.control import Env, Outcome, Policy, transition
from handover.control import effects as fx
from handover.model import Content, Conversation, HandoverSignal, Party, State

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ENV = Env(now=NOW, within_hours=True)
POLICY = Policy()
CID = "c" * 32
THREAD = f"{CID}-2"


def conv(state: State, **kw: object) -> Conversation:
    base = Conversation(
        id=CID, tenant="t", channel="web", channel_key="k", language="nl",
        state=state, epoch=5, handover_no=2,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def k(**kw: object) -> dict[str, object]:
    return {"conversation_id": CID, "source": "s", "source_id": "x", **kw}


TIMER_OF = {
    State.BOT: control.QUEUE_TIMEOUT,
    State.CONSENT: control.CONSENT_TIMEOUT,
    State.HANDOVER_PENDING: control.QUEUE_TIMEOUT,
    State.QUEUED: control.QUEUE_TIMEOUT,
    State.AGENT: control.AGENT_INACTIVE,
    State.SURVEY: control.SURVEY_TIMEOUT,
    State.CLOSED: control.SURVEY_TIMEOUT,
    State.TRANSFER: control.QUEUE_TIMEOUT,
    State.CALLBACK: control.CALLBACK_TIMEOUT,
}
FAILED_KIND_OF = {
    State.BOT: "bot.turn",
    State.CONSENT: "bot.turn",
    State.HANDOVER_PENDING: "desk.check",
    State.QUEUED: "desk.open",
    State.AGENT: "desk.message",
    State.SURVEY: "bot.turn",
    State.CLOSED: "bot.turn",
    State.TRANSFER: "citizen.transfer",
    State.CALLBACK: "registry.callback",
}


def event_of(name: str, state: State) -> ev.Event:
    """A current (not stale) event of each type for a conversation in `state`."""
    makers = {
        "CitizenMessage": lambda: ev.CitizenMessage(**k(content=Content("8"))),
        "CitizenRequestsAgent": lambda: ev.CitizenRequestsAgent(**k()),
        "CitizenLeft": lambda: ev.CitizenLeft(**k()),
        "BotReplied": lambda: ev.BotReplied(**k(epoch=5, messages=(Content("hi"),))),
        "BotFailed": lambda: ev.BotFailed(**k(epoch=5, reason="down")),
        "HandoverRequested": lambda: ev.HandoverRequested(**k(signal=HandoverSignal())),
        "AvailabilityChecked": lambda: ev.AvailabilityChecked(**k(epoch=5, available=True)),
        "AgentJoined": lambda: ev.AgentJoined(**k(thread=THREAD, agent_name="Sanne")),
        "AgentMessage": lambda: ev.AgentMessage(**k(thread=THREAD, content=Content("Hallo"))),
        "AgentClosed": lambda: ev.AgentClosed(**k(thread=THREAD)),
        "AgentTransferred": lambda: ev.AgentTransferred(**k(thread=THREAD, agent_name="Piet")),
        "QueueUpdated": lambda: ev.QueueUpdated(**k(thread=THREAD, position=2)),
        "DeskFailed": lambda: ev.DeskFailed(**k(thread=THREAD, reason="gone")),
        "TimerFired": lambda: ev.TimerFired(**k(name=TIMER_OF[state], epoch=5)),
        "DeliveryDelayed": lambda: ev.DeliveryDelayed(**k(kind="desk.message")),
        "TransferStatus": lambda: ev.TransferStatus(**k(answered=True)),
        "DeliveryFailed": lambda: ev.DeliveryFailed(
            **k(epoch=5, kind=FAILED_KIND_OF[state], reason="permanent")
        ),
        "ChannelNotice": lambda: ev.ChannelNotice(**k(kind="template_fallback")),
        "Registered": lambda: ev.Registered(**k(kind="registry.callback", target="kcc")),
    }
    return makers[name]()  # type: ignore[no-untyped-call]


A_, S_, R_ = Outcome.APPLIED, Outcome.STALE, Outcome.REFUSED
B, N, P, Q, A, S, C = (
    State.BOT, State.CONSENT, State.HANDOVER_PENDING, State.QUEUED, State.AGENT, State.SURVEY,
    State.CLOSED,
)

# (event, {state: (outcome, next state)}) for every event type and every state.
EXPECTED: dict[str, dict[State, tuple[Outcome, State]]] = {
    "CitizenMessage": {
        B: (A_, B), N: (A_, B), P: (A_, P), Q: (A_, Q),
        A: (A_, A), S: (A_, S), C: (A_, B),
    },
    "CitizenRequestsAgent": {
        B: (A_, P), N: (A_, N), P: (R_, P), Q: (R_, Q),
        A: (R_, A), S: (A_, P), C: (A_, P),
    },
    "CitizenLeft": {
        B: (A_, C), N: (A_, C), P: (A_, C), Q: (A_, C),
        A: (A_, C), S: (A_, C), C: (R_, C),
    },
    "BotReplied": {
        B: (A_, B), N: (S_, N), P: (S_, P), Q: (S_, Q),
        A: (S_, A), S: (S_, S), C: (S_, C),
    },
    "BotFailed": {
        B: (A_, B), N: (S_, N), P: (S_, P), Q: (S_, Q),
        A: (S_, A), S: (S_, S), C: (S_, C),
    },
    "HandoverRequested": {
        B: (A_, P), N: (R_, N), P: (R_, P), Q: (R_, Q),
        A: (R_, A), S: (R_, S), C: (R_, C),
    },
    "AvailabilityChecked": {
        B: (S_, B), N: (S_, N), P: (A_, Q), Q: (S_, Q),
        A: (S_, A), S: (S_, S), C: (S_, C),
    },
    "AgentJoined": {
        B: (S_, B), N: (S_, N), P: (S_, P), Q: (A_, A),
        A: (A_, A), S: (S_, S), C: (S_, C),
    },
    "AgentMessage": {
        B: (S_, B), N: (S_, N), P: (S_, P), Q: (A_, A),
        A: (A_, A), S: (S_, S), C: (S_, C),
    },
    "AgentClosed": {
        B: (S_, B), N: (S_, N), P: (S_, P), Q: (A_, B),
        A: (A_, S), S: (S_, S), C: (S_, C),
    },
    "AgentTransferred": {
        B: (S_, B), N: (S_, N), P: (S_, P), Q: (A_, Q),
        A: (A_, A), S: (S_, S), C: (S_, C),
    },
    "QueueUpdated": {
        B: (S_, B), N: (S_, N), P: (S_, P), Q: (A_, Q),
        A: (S_, A), S: (S_, S), C: (S_, C),
    },
    "DeskFailed": {
        B: (S_, B), N: (S_, N), P: (S_, P), Q: (A_, B),
        A: (A_, B), S: (S_, S), C: (S_, C),
    },
    "TimerFired": {
        B: (S_, B), N: (A_, B), P: (S_, P), Q: (A_, B),
        A: (A_, B), S: (A_, B), C: (S_, C),
    },
    "DeliveryDelayed": {
        B: (S_, B), N: (S_, N), P: (S_, P), Q: (A_, Q),
        A: (A_, A), S: (S_, S), C: (S_, C),
    },
    "DeliveryFailed": {
        B: (A_, B), N: (S_, N), P: (A_, B), Q: (A_, B),
        A: (A_, A), S: (S_, S), C: (S_, C),
    },
    "ChannelNotice": {
        B: (S_, B), N: (S_, N), P: (S_, P), Q: (A_, Q),
        A: (A_, A), S: (S_, S), C: (S_, C),
    },
}

# A call being transferred (handover/control/transfer.py): only the transfer's own
# outcome, the caller and a failed transfer request move it.
_IN_TRANSFER = {
    "CitizenMessage": (A_, State.TRANSFER), "CitizenRequestsAgent": (R_, State.TRANSFER),
    "CitizenLeft": (A_, C), "HandoverRequested": (R_, State.TRANSFER),
    "DeliveryFailed": (A_, B), "TransferStatus": (A_, C),
}
EXPECTED["TransferStatus"] = {state: (S_, state) for state in State}
for _name, _row in EXPECTED.items():
    _row[State.TRANSFER] = _IN_TRANSFER.get(_name, (S_, State.TRANSFER))

# Taking a callback request (handover/control/callback.py): the citizen's answers, the
# step's timer and leaving move it; a failed registration changes nothing (the citizen
# is not told). Without a request in the context a message ends it.
_IN_CALLBACK = {
    "CitizenMessage": (A_, B), "CitizenRequestsAgent": (A_, State.CALLBACK),
    "CitizenLeft": (A_, C), "HandoverRequested": (R_, State.CALLBACK), "TimerFired": (A_, B),
}
for _name, _row in EXPECTED.items():
    _row[State.CALLBACK] = _IN_CALLBACK.get(_name, (S_, State.CALLBACK))
# A target's confirmation of a registration is counted whoever holds the conversation.
EXPECTED["Registered"] = {state: (A_, state) for state in State}

CASES = [
    pytest.param(name, state, outcome, nxt, id=f"{state.value}-{name}")
    for name, row in EXPECTED.items()
    for state, (outcome, nxt) in row.items()
]


def test_table_covers_every_state_and_event_type() -> None:
    event_types = {cls.__name__ for cls in vars(ev).values()
                   if isinstance(cls, type) and issubclass(cls, ev.Event)
                   and cls not in (ev.Event, ev.DeskEvent)}
    assert set(EXPECTED) == event_types
    for row in EXPECTED.values():
        assert set(row) == set(State)


@pytest.mark.parametrize(("name", "state", "outcome", "nxt"), CASES)
def test_every_pair(name: str, state: State, outcome: Outcome, nxt: State) -> None:
    before = conv(state)
    result = transition(before, event_of(name, state), POLICY, ENV)
    assert result.outcome is outcome, result.reason
    assert result.conversation.state is nxt
    if nxt is not state:
        # Every change of owner starts a new epoch.
        assert result.conversation.epoch == before.epoch + 1
    if outcome is Outcome.STALE:
        assert result.effects == ()
        assert result.conversation == before


def effects_of(result: control.Transition, kind: type) -> list[object]:
    return [e for e in result.effects if isinstance(e, kind)]


def test_late_bot_reply_from_older_epoch_is_stale() -> None:
    late = ev.BotReplied(**k(epoch=4, messages=(Content("late"),)))
    result = transition(conv(B), late, POLICY, ENV)
    assert result.outcome is Outcome.STALE
    assert not effects_of(result, fx.Say)


def test_agent_message_for_previous_thread_is_stale() -> None:
    old = ev.AgentMessage(**k(thread=f"{CID}-1", content=Content("after close")))
    assert transition(conv(A), old, POLICY, ENV).outcome is Outcome.STALE


def test_bot_handover_signal_starts_check_with_new_thread_number() -> None:
    reply = ev.BotReplied(**k(epoch=5, messages=(Content("Ik verbind u door"),),
                              handover=HandoverSignal(reason="bot", topic="afval")))
    result = transition(conv(B), reply, POLICY, ENV)
    assert result.conversation.state is P
    assert result.conversation.handover_no == 3
    assert effects_of(result, fx.Say)[0] == fx.Say(Party.BOT, Content("Ik verbind u door"))
    (check,) = effects_of(result, fx.CheckAvailability)
    assert check.signal.topic == "afval"  # type: ignore[attr-defined]


def test_outside_hours_keeps_bot_and_tells_hours() -> None:
    req = ev.CitizenRequestsAgent(**k())
    result = transition(conv(B), req, POLICY, Env(now=NOW, within_hours=False))
    assert result.conversation.state is B
    assert fx.Notify("outside_hours") in result.effects
    assert fx.CountHandover("outside_hours", "citizen_request") in result.effects


def test_without_availability_check_queues_directly() -> None:
    result = transition(conv(B), ev.CitizenRequestsAgent(**k()),
                        Policy(check_availability=False), ENV)
    assert result.conversation.state is Q
    assert effects_of(result, fx.OpenThread)
    assert fx.StartTimer(control.QUEUE_TIMEOUT, 600) in result.effects


def test_unavailable_desk_returns_to_bot_with_notice() -> None:
    checked = ev.AvailabilityChecked(**k(epoch=5, available=False))
    result = transition(conv(P), checked, POLICY, ENV)
    assert result.conversation.state is B
    assert fx.Notify("no_agents") in result.effects


def test_queue_position_is_shown() -> None:
    checked = ev.AvailabilityChecked(**k(epoch=5, available=True, queue_length=3))
    result = transition(conv(P), checked, POLICY, ENV)
    assert fx.Notify("queued", {"position": 3}) in result.effects


def test_agent_message_while_queued_counts_as_join() -> None:
    msg = ev.AgentMessage(**k(thread=THREAD, content=Content("Goedemiddag"), agent_name="Ali"))
    result = transition(conv(Q), msg, POLICY, ENV)
    assert result.conversation.state is A
    assert result.conversation.agent_name == "Ali"
    assert fx.Notify("agent_joined", {"agent": "Ali"}) in result.effects
    assert fx.Say(Party.AGENT, Content("Goedemiddag"), "Ali") in result.effects


def test_agent_close_asks_survey_and_hands_back() -> None:
    result = transition(conv(A), ev.AgentClosed(**k(thread=THREAD, outcome="solved")), POLICY, ENV)
    assert result.conversation.state is S
    assert fx.BotHandback("solved") in result.effects
    assert any(isinstance(e, fx.Notify) and e.key == "survey_question" for e in result.effects)


def test_agent_close_without_survey_goes_back_to_bot() -> None:
    result = transition(conv(A), ev.AgentClosed(**k(thread=THREAD)),
                        Policy(survey_enabled=False), ENV)
    assert result.conversation.state is B
    assert fx.BotHandback("resolved") in result.effects


def test_survey_score_then_comment() -> None:
    first = transition(conv(S, context={"outcome": "ok"}),
                       ev.CitizenMessage(**k(content=Content("9"))), POLICY, ENV)
    assert first.conversation.state is S
    assert first.conversation.context["survey_score"] == 9
    second = transition(first.conversation,
                        ev.CitizenMessage(**k(content=Content("Snel geholpen"))), POLICY, ENV)
    assert second.conversation.state is B
    assert fx.RecordSurvey(9, "Snel geholpen", "ok") in second.effects
    assert "survey_score" not in second.conversation.context


def test_survey_skip_comment() -> None:
    first = transition(conv(S), ev.CitizenMessage(**k(content=Content("7"))), POLICY, ENV)
    second = transition(first.conversation, ev.CitizenMessage(
        **k(content=Content("Overslaan"), payload=control.SKIP_PAYLOAD)), POLICY, ENV)
    assert fx.RecordSurvey(7, None, None) in second.effects


def test_survey_without_comment_records_at_once() -> None:
    result = transition(conv(S), ev.CitizenMessage(**k(content=Content("10"))),
                        Policy(survey_ask_comment=False), ENV)
    assert result.conversation.state is B
    assert fx.RecordSurvey(10, None, None) in result.effects


def test_survey_out_of_range_asks_again() -> None:
    result = transition(conv(S), ev.CitizenMessage(**k(content=Content("11"))), POLICY, ENV)
    assert result.conversation.state is S
    assert any(isinstance(e, fx.Notify) and e.key == "survey_invalid" for e in result.effects)


def test_question_instead_of_score_skips_survey_and_asks_bot() -> None:
    msg = ev.CitizenMessage(**k(content=Content("Wanneer wordt het afval opgehaald?")))
    result = transition(conv(S), msg, POLICY, ENV)
    assert result.conversation.state is B
    assert fx.RecordSurvey(None, None, None) in result.effects
    assert effects_of(result, fx.AskBot)


@pytest.mark.parametrize(
    ("fallback", "state", "key"),
    [("phone", B, "queue_timeout_phone"), ("bot", B, "queue_timeout_bot"),
     ("message", Q, "queue_timeout_message")],
)
def test_queue_timeout_fallbacks(fallback: str, state: State, key: str) -> None:
    timer = ev.TimerFired(**k(name=control.QUEUE_TIMEOUT, epoch=5))
    result = transition(conv(Q), timer, Policy(queue_fallback=fallback), ENV)
    assert result.conversation.state is state
    assert fx.Notify(key) in result.effects
    assert fx.DeskNote("note_queue_timeout") in result.effects
    closes = effects_of(result, fx.CloseThread)
    assert bool(closes) is (fallback != "message")


def test_bot_failure_escalates_once_then_apologises() -> None:
    policy = Policy(bot_failure="escalate", max_bot_escalations=1)
    failed = ev.BotFailed(**k(epoch=5, reason="timeout"))
    first = transition(conv(B), failed, policy, ENV)
    assert first.conversation.state is P
    assert first.conversation.bot_escalations == 1
    # Back with the bot later, a second failure must not escalate again (loop guard).
    again = first.conversation.evolve(state=B)
    second = transition(again, replace(failed, epoch=again.epoch), policy, ENV)
    assert second.conversation.state is B
    assert fx.Notify("bot_apology") in second.effects


def test_citizen_leaving_during_agent_notifies_desk_and_bot() -> None:
    result = transition(conv(A), ev.CitizenLeft(**k()), POLICY, ENV)
    assert fx.DeskNote("note_citizen_left") in result.effects
    assert fx.CloseThread("citizen_left") in result.effects
    assert fx.BotHandback("citizen_left") in result.effects


def test_second_handover_after_closed_chat_gets_a_new_thread() -> None:
    closed = transition(conv(A), ev.AgentClosed(**k(thread=THREAD)),
                        Policy(survey_enabled=False), ENV).conversation
    assert closed.desk_thread is None
    again = transition(closed, ev.CitizenRequestsAgent(**k()), POLICY, ENV).conversation
    assert again.handover_no == 3
    queued = transition(again, ev.AvailabilityChecked(**k(epoch=again.epoch, available=True)),
                        POLICY, ENV).conversation
    assert queued.desk_thread == f"{CID}-3"
    # Events about the first thread no longer reach the conversation.
    late = ev.AgentMessage(**k(thread=THREAD, content=Content("nog iets")))
    assert transition(queued, late, POLICY, ENV).outcome is Outcome.STALE


# --- consent before a handover ----------------------------------------------------------

DAEMON_ASKS = Policy(consent="daemon")
BOT_ASKS = Policy(consent="bot")


def bot_signal(consent: bool) -> ev.BotReplied:
    return ev.BotReplied(**k(epoch=5, messages=(Content("Zal ik u doorverbinden?"),),
                             handover=HandoverSignal(reason="bot", topic="afval",
                                                     consent=consent)))


def answer(text: str, payload: str | None = None) -> ev.CitizenMessage:
    return ev.CitizenMessage(**k(content=Content(text), payload=payload))


def test_daemon_asks_consent_with_yes_no_buttons_before_any_desk_work() -> None:
    result = transition(conv(B), bot_signal(consent=True), DAEMON_ASKS, ENV)
    assert result.conversation.state is N
    (question,) = [n for n in effects_of(result, fx.Notify) if n.key == "consent_question"]
    assert [p for _, p in question.buttons] == [control.CONSENT_YES, control.CONSENT_NO]
    assert not effects_of(result, fx.CheckAvailability)
    assert not effects_of(result, fx.OpenThread)
    assert [t.name for t in effects_of(result, fx.StartTimer)] == [control.CONSENT_TIMEOUT]
    # The bot's reply itself is still shown.
    assert [s.content.text for s in effects_of(result, fx.Say)] == ["Zal ik u doorverbinden?"]


@pytest.mark.parametrize(("text", "payload"), [("Ja, graag", control.CONSENT_YES), ("ja", None),
                                               ("Yes!", None)])
def test_yes_starts_the_handover_with_consent_recorded(text: str, payload: str | None) -> None:
    asked = transition(conv(B), bot_signal(consent=False), DAEMON_ASKS, ENV).conversation
    result = transition(asked, answer(text, payload), DAEMON_ASKS, ENV)
    assert result.conversation.state is P
    assert result.conversation.handover_no == asked.handover_no + 1
    handover = result.conversation.context["handover"]
    assert handover["consent"] is True and handover["topic"] == "afval"
    assert "consent_signal" not in result.conversation.context
    assert effects_of(result, fx.CheckAvailability)
    assert [t.name for t in effects_of(result, fx.CancelTimer)] == [control.CONSENT_TIMEOUT]
    # The answer is part of the transcript the agent will see, not a bot turn.
    assert effects_of(result, fx.RecordCitizen) and not effects_of(result, fx.AskBot)


def test_no_keeps_the_bot_and_counts_a_declined_handover() -> None:
    asked = transition(conv(B), bot_signal(consent=False), DAEMON_ASKS, ENV).conversation
    result = transition(asked, answer("Nee, liever niet", control.CONSENT_NO), DAEMON_ASKS, ENV)
    assert result.conversation.state is B
    assert result.conversation.handover_no == asked.handover_no
    assert [n.key for n in effects_of(result, fx.Notify)] == ["consent_declined"]
    # The report tells declined requests apart by why they were made.
    assert effects_of(result, fx.CountHandover) == [fx.CountHandover("declined", "bot")]
    assert not effects_of(result, fx.CheckAvailability)


def test_a_question_instead_of_an_answer_goes_to_the_bot() -> None:
    asked = transition(conv(B), bot_signal(consent=False), DAEMON_ASKS, ENV).conversation
    result = transition(asked, answer("Hoe laat gaat het zwembad open?"), DAEMON_ASKS, ENV)
    assert result.conversation.state is B
    assert [a.content.text for a in effects_of(result, fx.AskBot)] == [
        "Hoe laat gaat het zwembad open?"
    ]


def test_unanswered_consent_times_out_back_to_the_bot() -> None:
    asked = transition(conv(B), bot_signal(consent=False), DAEMON_ASKS, ENV).conversation
    fired = ev.TimerFired(**k(name=control.CONSENT_TIMEOUT, epoch=asked.epoch))
    result = transition(asked, fired, DAEMON_ASKS, ENV)
    assert result.conversation.state is B
    assert "consent_signal" not in result.conversation.context


def test_bot_policy_trusts_the_bot_that_asked_and_asks_for_everything_else() -> None:
    # The bot asked (Gem does): straight on to the availability check.
    trusted = transition(conv(B), bot_signal(consent=True), BOT_ASKS, ENV)
    assert trusted.conversation.state is P
    assert trusted.conversation.context["handover"]["consent"] is True
    # A bot signal without consent, or the citizen's own "talk to a person" action,
    # which the bot never saw: the daemon asks.
    assert transition(conv(B), bot_signal(consent=False), BOT_ASKS, ENV).conversation.state is N
    request = ev.CitizenRequestsAgent(**k())
    assert transition(conv(B), request, BOT_ASKS, ENV).conversation.state is N
    assert transition(conv(B), request, POLICY, ENV).conversation.state is P


def test_outside_hours_nobody_is_asked_for_consent() -> None:
    closed = Env(now=NOW, within_hours=False)
    result = transition(conv(B), ev.CitizenRequestsAgent(**k()), DAEMON_ASKS, closed)
    assert result.conversation.state is B
    assert [n.key for n in effects_of(result, fx.Notify)] == ["outside_hours"]


def test_citizen_back_after_leaving_a_human_stretch_is_told_the_bot_answers() -> None:
    left = transition(conv(A), ev.CitizenLeft(**k()), POLICY, ENV).conversation
    back = transition(left, ev.CitizenMessage(**k(content=Content("Hallo?"))), POLICY, ENV)
    assert back.conversation.state is B
    assert [n.key for n in effects_of(back, fx.Notify)] == ["back_to_bot"]
    # Without any handover before, the bot simply answers.
    fresh = transition(conv(C, handover_no=0), ev.CitizenMessage(**k(content=Content("Hoi"))),
                       POLICY, ENV)
    assert not effects_of(fresh, fx.Notify)


def test_channel_notices_tell_the_agent_or_the_waiting_citizen() -> None:
    def notice(state: State, kind: str) -> control.Transition:
        event = ev.ChannelNotice(conversation_id=CID, source="wa", source_id=kind, kind=kind)
        return transition(conv(state), event, POLICY, ENV)

    assert effects_of(notice(A, "template_fallback"), fx.DeskNote) == [
        fx.DeskNote("note_template_fallback")
    ]
    assert effects_of(notice(Q, "window_closing"), fx.Notify) == [fx.Notify("window_closing")]
    # Once an agent has joined, the window no longer threatens the wait.
    assert notice(A, "window_closing").outcome is Outcome.STALE
    assert notice(A, "something_new").outcome is Outcome.STALE
