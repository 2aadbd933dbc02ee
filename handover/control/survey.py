"""The satisfaction question after an agent closed (state `survey`): a 0..10 score,
then optionally a comment. Anything that is not an answer skips the survey and goes
to the bot; the bot holds the conversation again once the survey is over."""

from __future__ import annotations

from typing import Any

from handover import events as ev
from handover.control import effects as fx
from handover.control.bot import leave_in_bot
from handover.control.common import to_bot
from handover.control.handover import citizen_requests_agent
from handover.control.types import (
    SKIP_PAYLOAD,
    SURVEY_BUTTONS,
    SURVEY_TIMEOUT,
    Step,
    TableRows,
    Transition,
)
from handover.model import State


def _parse_score(msg: ev.CitizenMessage) -> int | None:
    raw = (msg.payload or msg.content.text).strip()
    if raw.isdigit():
        return int(raw)
    return None


def _finish_survey(step: Step, score: Any, comment: str | None, *, thanks: bool) -> None:
    context = {k: v for k, v in step.conv.context.items() if k != "survey_score"}
    outcome = context.get("outcome")
    step.emit(
        fx.RecordSurvey(score if isinstance(score, int) else None, comment, outcome),
        fx.CancelTimer(SURVEY_TIMEOUT),
    )
    if thanks:
        step.emit(fx.Notify("survey_thanks"))
    step.move(State.BOT, context=context)
    step.emit(fx.ShowControl(State.BOT))


def survey_message(step: Step) -> Transition:
    msg: ev.CitizenMessage = step.event
    pending = step.conv.context.get("survey_score")
    if isinstance(pending, int):
        # Second step: the optional comment (or the skip button).
        step.emit(fx.RecordCitizen(msg.content))
        skipped = msg.payload == SKIP_PAYLOAD
        _finish_survey(step, pending, None if skipped else msg.content.text, thanks=True)
        return step.done()
    score = _parse_score(msg)
    if score is None:
        # Not an answer: the citizen moved on. Skip the survey, let the bot answer.
        _finish_survey(step, None, None, thanks=False)
        to_bot(step, msg)
        return step.done()
    step.emit(fx.RecordCitizen(msg.content))
    if score > 10:
        step.emit(fx.Notify("survey_invalid", buttons=SURVEY_BUTTONS))
        return step.done()
    if step.policy.survey_ask_comment:
        step.update(context={**step.conv.context, "survey_score": score})
        step.emit(
            fx.Notify("survey_comment", buttons=(("skip_label", SKIP_PAYLOAD),)),
            fx.StartTimer(SURVEY_TIMEOUT, step.policy.survey_timeout_seconds),
        )
        return step.done()
    _finish_survey(step, score, None, thanks=True)
    return step.done()


def survey_timeout(step: Step) -> Transition:
    """Timer: the survey was not (fully) answered; a score already given is kept."""
    _finish_survey(step, step.conv.context.get("survey_score"), None, thanks=False)
    return step.done()


S = State.SURVEY

#: The `survey` state (its timer is in `handover.control.timers`).
TRANSITIONS: TableRows = {
    (S, ev.CitizenMessage): survey_message,
    (S, ev.CitizenRequestsAgent): citizen_requests_agent,
    (S, ev.CitizenLeft): leave_in_bot,
}
