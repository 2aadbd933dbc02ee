"""The callback request (contactverzoek): the transitions of the `callback` state.

Where a person cannot be reached now (outside opening hours, nobody free, a queue
timeout, the desk down) and the tenant offers it, the daemon (not the bot) asks:

    consent --yes--> [the caller's own number?] -> how to reach them -> [name] -> question
            --no---> bot (nothing stored)                                  |
                                                                           v
                                        bot <- reference and callback time told, registered

"stop" ends it at every step, and so does a step left unanswered (`CALLBACK_TIMEOUT`);
either way nothing is stored. Until it completes, what the citizen gave lives only in
the conversation's internal context (`callback`); on completion the router writes one
registration per target (`fx.RegisterCallback`) in the same step. A BSN is never asked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from handover import events as ev
from handover.control import effects as fx
from handover.control.address import contact_address, phone_number
from handover.control.common import back_to_bot, to_bot
from handover.control.types import (
    CALLBACK_TIMEOUT,
    SKIP_PAYLOAD,
    TableRows,
    Transition,
    TransitionContext,
)
from handover.model import State
from handover.sdk.registration import CALLER_NUMBER_CONTEXT_KEY

K = State.CALLBACK
#: Context key of the request being taken.
CONTEXT_KEY = "callback"
#: Context key where a phone channel records the number the caller calls from (E.164
#: or national); offered as the callback number.
CALLER_NUMBER = CALLER_NUMBER_CONTEXT_KEY

YES, NO = "/callback_yes", "/callback_no"
SAME_QUESTION = "/callback_same"
STOP = "/callback_stop"
YES_NO = (("callback_yes_label", YES), ("callback_no_label", NO))

_YES_WORDS = frozenset({"ja", "yes", "j", "y", "ok", "oké", "okay", "akkoord", "graag", "goed",
                        "prima", "sure"})
_NO_WORDS = frozenset({"nee", "no", "n", "neen", "niet", "liever"})
_STOP_WORDS = frozenset({"stop", "stoppen", "annuleer", "annuleren", "cancel", "quit",
                         "exit", "halt", "afbreken"})
_SKIP_WORDS = frozenset({"overslaan", "skip", "-", "nee", "no", "geen", "liever niet"})
#: Longest name and question kept (a question longer than this is cut, not refused).
_MAX_NAME, _MAX_QUESTION = 100, 2000


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.casefold()).split()


def _yes_no(msg: ev.CitizenMessage) -> bool | None:
    if msg.payload in (YES, NO):
        return msg.payload == YES
    words = _words(msg.content.text)
    if words and words[0] in _YES_WORDS:
        return True
    if words and words[0] in _NO_WORDS:
        return False
    return None


def _is_stop(msg: ev.CitizenMessage) -> bool:
    if msg.payload == STOP:
        return True
    words = _words(msg.content.text)
    return len(words) <= 2 and bool(words) and words[0] in _STOP_WORDS


def _data(ctx: TransitionContext) -> dict[str, Any]:
    raw = ctx.conv.context.get(CONTEXT_KEY)
    return dict(raw) if isinstance(raw, Mapping) else {}


def _save(ctx: TransitionContext, data: Mapping[str, Any]) -> None:
    ctx.update(context={**ctx.conv.context, CONTEXT_KEY: dict(data)})


def _forget(ctx: TransitionContext, state: State) -> None:
    """Leave the dialogue; what the citizen gave goes with it."""
    context = {k: v for k, v in ctx.conv.context.items() if k != CONTEXT_KEY}
    ctx.move(state, context=context, agent_name=None)
    ctx.emit(fx.CancelTimer(CALLBACK_TIMEOUT))


# --- offering it ---------------------------------------------------------------------


def offers_callback(ctx: TransitionContext, reason: str) -> bool:
    """Whether the tenant offers a callback request at this moment."""
    return ctx.policy.callback_enabled and reason in ctx.policy.callback_offer_when


def no_person_now(ctx: TransitionContext, reason: str, *notices: fx.Effect) -> Transition:
    """Nobody can take the conversation now (`reason`): after `notices`, a callback
    request where the tenant offers one, or else back to the bot."""
    if not offers_callback(ctx, reason):
        return back_to_bot(ctx, *notices)
    ctx.move(State.CALLBACK, agent_name=None,
             context={**ctx.conv.context, CONTEXT_KEY: {"step": "consent", "reason": reason}})
    ctx.emit(
        *notices,
        fx.Notify("callback_offer", buttons=YES_NO),
        fx.ShowControl(State.CALLBACK),
        fx.StartTimer(CALLBACK_TIMEOUT, ctx.policy.callback_timeout_seconds),
        fx.CountCallback("offered", reason),
        fx.SuggestQuestion(),
    )
    return ctx.done()


# --- asking ---------------------------------------------------------------------------


def _ask(ctx: TransitionContext, data: dict[str, Any], step: str) -> Transition:
    """Ask the question of `step` (again) and wait for the answer."""
    data["step"] = step
    _save(ctx, data)
    ctx.emit(_question(ctx, data, step),
             fx.StartTimer(CALLBACK_TIMEOUT, ctx.policy.callback_timeout_seconds))
    return ctx.done()


def _question(ctx: TransitionContext, data: Mapping[str, Any], step: str) -> fx.Notify:
    if step == "consent":
        return fx.Notify("callback_offer", buttons=YES_NO)
    if step == "caller_number":
        caller = str(data.get("caller", ""))
        return fx.Notify("callback_caller_number", {"digits": caller[-2:]},
                         buttons=(("callback_yes_label", YES),
                                  ("callback_other_number_label", NO)))
    if step == "address":
        return fx.Notify("callback_address_spoken" if ctx.env.spoken else "callback_address")
    if step == "name":
        return fx.Notify("callback_name", buttons=(("skip_label", SKIP_PAYLOAD),))
    suggested = data.get("suggested")
    if isinstance(suggested, str) and suggested:
        return fx.Notify("callback_question_suggested", {"question": suggested},
                         buttons=(("callback_same_label", SAME_QUESTION),))
    return fx.Notify("callback_question")


def _after_consent(ctx: TransitionContext, data: dict[str, Any]) -> Transition:
    caller = phone_number(str(ctx.conv.context.get(CALLER_NUMBER) or ""))
    if caller is not None:
        data["caller"] = caller
        return _ask(ctx, data, "caller_number")
    return _ask(ctx, data, "address")


def _after_address(ctx: TransitionContext, data: dict[str, Any]) -> Transition:
    if ctx.policy.callback_ask_name:
        return _ask(ctx, data, "name")
    return _ask(ctx, data, "question")


# --- the steps -------------------------------------------------------------------------


def _consent(ctx: TransitionContext, msg: ev.CitizenMessage, data: dict[str, Any]) -> Transition:
    answer = _yes_no(msg)
    if answer is None:
        # Not an answer: the citizen moved on. Nothing is stored; the bot answers.
        _forget(ctx, State.BOT)
        ctx.emit(fx.ShowControl(State.BOT), fx.CountCallback("declined"))
        to_bot(ctx, msg)
        return ctx.done()
    ctx.emit(fx.RecordCitizen(msg.content))
    if not answer:
        _forget(ctx, State.BOT)
        ctx.emit(fx.Notify("callback_declined"), fx.ShowControl(State.BOT),
                 fx.CountCallback("declined"))
        return ctx.done()
    return _after_consent(ctx, data)


def _caller_number(
    ctx: TransitionContext, msg: ev.CitizenMessage, data: dict[str, Any]
) -> Transition:
    ctx.emit(fx.RecordCitizen(msg.content))
    answer = _yes_no(msg)
    if answer:
        data.update(address_kind="phone", address=data.pop("caller", ""))
        return _after_address(ctx, data)
    data.pop("caller", None)
    if answer is None:
        # Perhaps they said another number straight away.
        given = contact_address(msg.content.text, phone_only=ctx.env.spoken)
        if given is not None:
            data.update(address_kind=given[0], address=given[1])
            return _after_address(ctx, data)
    return _ask(ctx, data, "address")


def _address(ctx: TransitionContext, msg: ev.CitizenMessage, data: dict[str, Any]) -> Transition:
    ctx.emit(fx.RecordCitizen(msg.content))
    given = contact_address(msg.content.text, phone_only=ctx.env.spoken)
    if given is None:
        ctx.emit(fx.Notify("callback_address_invalid_spoken" if ctx.env.spoken
                           else "callback_address_invalid"),
                 fx.StartTimer(CALLBACK_TIMEOUT, ctx.policy.callback_timeout_seconds))
        return ctx.done()
    data.update(address_kind=given[0], address=given[1])
    return _after_address(ctx, data)


def _name(ctx: TransitionContext, msg: ev.CitizenMessage, data: dict[str, Any]) -> Transition:
    ctx.emit(fx.RecordCitizen(msg.content))
    text = " ".join(msg.content.text.split())
    skipped = msg.payload == SKIP_PAYLOAD or not text or text.casefold() in _SKIP_WORDS
    data["name"] = None if skipped else text[:_MAX_NAME]
    return _ask(ctx, data, "question")


def _question_answer(
    ctx: TransitionContext, msg: ev.CitizenMessage, data: dict[str, Any]
) -> Transition:
    ctx.emit(fx.RecordCitizen(msg.content))
    suggested = data.get("suggested")
    same = msg.payload == SAME_QUESTION or (
        isinstance(suggested, str) and bool(suggested) and _yes_no(msg) is True
        and len(_words(msg.content.text)) <= 2
    )
    question = str(suggested) if same and suggested else msg.content.text.strip()
    if not question:
        return _ask(ctx, data, "question")
    _forget(ctx, State.BOT)
    ctx.emit(
        fx.RegisterCallback(
            address_kind=str(data.get("address_kind", "phone")),
            address=str(data.get("address", "")),
            question=question[:_MAX_QUESTION],
            name=data.get("name"),
        ),
        fx.ShowControl(State.BOT),
        fx.CountCallback("completed"),
    )
    return ctx.done()


_Step = Callable[[TransitionContext, ev.CitizenMessage, dict[str, Any]], Transition]
#: What each step does with the citizen's answer.
STEPS: Mapping[str, _Step] = {
    "consent": _consent,
    "caller_number": _caller_number,
    "address": _address,
    "name": _name,
    "question": _question_answer,
}


def callback_message(ctx: TransitionContext) -> Transition:
    msg: ev.CitizenMessage = ctx.event
    data = _data(ctx)
    step = STEPS.get(str(data.get("step")))
    if _is_stop(msg) or step is None:
        ctx.emit(fx.RecordCitizen(msg.content))
        consented = data.get("step") != "consent"
        _forget(ctx, State.BOT)
        ctx.emit(fx.Notify("callback_stopped"), fx.ShowControl(State.BOT),
                 fx.CountCallback("abandoned" if consented else "declined"))
        return ctx.done()
    return step(ctx, msg, data)


def callback_asked_again(ctx: TransitionContext) -> Transition:
    """"Talk to a person" during the dialogue: still nobody now; the question stands."""
    data = _data(ctx)
    ctx.emit(_question(ctx, data, str(data.get("step", "consent"))))
    return ctx.done()


def callback_timeout(ctx: TransitionContext) -> Transition:
    """Timer: a step went unanswered. Nothing is stored; the bot goes on."""
    consented = _data(ctx).get("step") != "consent"
    _forget(ctx, State.BOT)
    ctx.emit(fx.Notify("callback_abandoned"), fx.ShowControl(State.BOT),
             fx.CountCallback("abandoned" if consented else "declined"))
    return ctx.done()


def callback_left(ctx: TransitionContext) -> Transition:
    consented = _data(ctx).get("step") != "consent"
    _forget(ctx, State.CLOSED)
    ctx.emit(fx.CountCallback("abandoned" if consented else "declined"))
    return ctx.done()


def registered(ctx: TransitionContext) -> Transition:
    """A target took a callback request: counted for the report, whoever holds the
    conversation now (no change of state or epoch)."""
    event: ev.Registered = ctx.event
    ctx.emit(fx.CountCallback("registered", event.target))
    return ctx.done()


#: The `callback` state (its timer is in `handover.control.timers`), and a target's
#: confirmation in every state.
TRANSITIONS: TableRows = {
    (K, ev.CitizenMessage): callback_message,
    (K, ev.CitizenRequestsAgent): callback_asked_again,
    (K, ev.CitizenLeft): callback_left,
    **{(state, ev.Registered): registered for state in State},
}
