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
    TableRows,
    Transition,
    TransitionContext,
)
from handover.model import State


def _parse_score(msg: ev.CitizenMessage) -> int | None:
    raw = (msg.payload or msg.content.text).strip()
    if raw.isdigit():
        return int(raw)
    return None


def _finish_survey(
    ctx: TransitionContext, score: Any, comment: str | None, *, thanks: bool
) -> None:
    context = {k: v for k, v in ctx.conv.context.items() if k != "survey_score"}
    outcome = context.get("outcome")
    ctx.emit(
        fx.RecordSurvey(score if isinstance(score, int) else None, comment, outcome),
        fx.CancelTimer(SURVEY_TIMEOUT),
    )
    if thanks:
        ctx.emit(fx.Notify("survey_thanks"))
    ctx.move(State.BOT, context=context)
    ctx.emit(fx.ShowControl(State.BOT))


def survey_message(ctx: TransitionContext) -> Transition:
    msg: ev.CitizenMessage = ctx.event
    pending = ctx.conv.context.get("survey_score")
    if isinstance(pending, int):
        # Second step: the optional comment (or the skip button).
        ctx.emit(fx.RecordCitizen(msg.content))
        skipped = msg.payload == SKIP_PAYLOAD
        _finish_survey(ctx, pending, None if skipped else msg.content.text, thanks=True)
        return ctx.done()
    score = _parse_score(msg)
    if score is None:
        # Not an answer: the citizen moved on. Skip the survey, let the bot answer.
        _finish_survey(ctx, None, None, thanks=False)
        to_bot(ctx, msg)
        return ctx.done()
    ctx.emit(fx.RecordCitizen(msg.content))
    if score > 10:
        ctx.emit(fx.Notify("survey_invalid", buttons=SURVEY_BUTTONS))
        return ctx.done()
    if ctx.policy.survey_ask_comment:
        ctx.update(context={**ctx.conv.context, "survey_score": score})
        ctx.emit(
            fx.Notify("survey_comment", buttons=(("skip_label", SKIP_PAYLOAD),)),
            fx.StartTimer(SURVEY_TIMEOUT, ctx.policy.survey_timeout_seconds),
        )
        return ctx.done()
    _finish_survey(ctx, score, None, thanks=True)
    return ctx.done()


def survey_timeout(ctx: TransitionContext) -> Transition:
    """Timer: the survey was not (fully) answered; a score already given is kept."""
    _finish_survey(ctx, ctx.conv.context.get("survey_score"), None, thanks=False)
    return ctx.done()


S = State.SURVEY

#: The `survey` state (its timer is in `handover.control.timers`).
TRANSITIONS: TableRows = {
    (S, ev.CitizenMessage): survey_message,
    (S, ev.CitizenRequestsAgent): citizen_requests_agent,
    (S, ev.CitizenLeft): leave_in_bot,
}
