"""The state machine's vocabulary: its inputs, the event being applied,
its result, and the names it shares with the router and the channels.

Every group of transitions (bot, handover, agent, survey, transfer, timers, failures)
builds on these and on `handover.control.common`; nothing here knows any state's rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from handover import events as ev
from handover.control import effects as fx
from handover.model import Conversation, State

# Timer names (the router stores them with the conversation's epoch).
QUEUE_TIMEOUT = "queue_timeout"
AGENT_INACTIVE = "agent_inactive"
CITIZEN_INACTIVE = "citizen_inactive"
SURVEY_TIMEOUT = "survey_timeout"
CONSENT_TIMEOUT = "consent_timeout"
CALLBACK_TIMEOUT = "callback_timeout"

# Button payloads the citizen's channel sends back.
SKIP_PAYLOAD = "/skip"
CONSENT_YES = "/consent_yes"
CONSENT_NO = "/consent_no"

#: (catalogue key of the label, payload) of the consent question's buttons.
CONSENT_BUTTONS = (("consent_yes_label", CONSENT_YES), ("consent_no_label", CONSENT_NO))
#: The survey's 0..10 score buttons: the label is the payload.
SURVEY_BUTTONS = tuple((str(n), str(n)) for n in range(11))

#: Context keys the state machine keeps for itself; the rest (page context...) is what
#: the channel told about the citizen, and is what bots and desks are shown.
INTERNAL_CONTEXT_KEYS = frozenset(
    {
        "handover", "outcome", "consent_signal", "survey_score", "choices", "queued_at",
        # The callback request being taken (personal: never shown to bots or desks),
        # the start of the human stretch and the agent's desk id (for registrations).
        "callback", "stretch_started", "agent_id",
        # The number a phone caller calls from (a phone channel's, offered by a
        # callback request): personal, and no business of the bot or the desk.
        "caller_number",
    }
)


def public_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The conversation context without the state machine's own bookkeeping."""
    return {k: v for k, v in context.items() if k not in INTERNAL_CONTEXT_KEYS}


class Outcome(StrEnum):
    """What became of an event: applied, dropped as out of date, or not allowed."""

    APPLIED = "applied"
    STALE = "stale"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Policy:
    """The tenant's policies as far as the state machine needs them."""

    check_availability: bool = True
    queue_timeout_seconds: float = 600
    queue_fallback: str = "phone"  # phone | message | bot
    agent_inactivity_seconds: float = 900
    citizen_inactivity_seconds: float = 600
    bot_failure: str = "apologise"  # apologise | escalate
    max_bot_escalations: int = 1
    survey_enabled: bool = True
    survey_timeout_seconds: float = 300
    survey_ask_comment: bool = True
    #: Who asks the citizen's consent to hand over (the agent then sees the transcript):
    #: "none" (nobody), "bot" (the bot asks before it signals; the daemon asks only for
    #: requests the bot did not make or made without consent), "daemon" (always asks).
    consent: str = "none"
    consent_timeout_seconds: float = 300
    #: The callback request (`handover.control.callback`): offered at all, at which
    #: moments (outside_hours, unavailable, queue_timeout, desk_failed), how long each
    #: step waits, and whether the citizen's name is asked.
    callback_enabled: bool = False
    callback_offer_when: frozenset[str] = frozenset()
    callback_timeout_seconds: float = 300
    callback_ask_name: bool = True


@dataclass(frozen=True, slots=True)
class Env:
    """Facts about the moment the event is applied, computed by the router."""

    now: datetime
    within_hours: bool = True
    #: The channel performs handovers as a call transfer (`ChannelCapabilities.transfer`).
    transfer: bool = False
    #: The channel can ask the written survey (not a spoken channel).
    survey: bool = True
    #: The channel speaks to the citizen (a phone call): questions are worded for it.
    spoken: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """The result of one event: the conversation's new values and the effects to run."""

    conversation: Conversation
    effects: tuple[fx.Effect, ...] = ()
    outcome: Outcome = Outcome.APPLIED
    reason: str = ""


@dataclass(slots=True)
class TransitionContext:
    """One event being applied to one conversation: what handlers read and build on.

    A handler changes `conv` (through `move` or `update`), collects effects with `emit`
    and returns `done()`. Each call of `transition` makes a new one, so handlers share
    nothing and stay pure. (Not the store's `Step`: that is what the router writes.)
    """

    conv: Conversation
    #: The event being applied. Typed loosely because the table guarantees its type:
    #: each handler names the event type it is registered for.
    event: Any
    policy: Policy
    env: Env
    effects: list[fx.Effect] = field(default_factory=list)

    def emit(self, *effects: fx.Effect) -> None:
        self.effects.extend(effects)

    def move(self, state: State, **changes: Any) -> None:
        """Change owner: a new epoch, so older work becomes stale."""
        self.conv = self.conv.evolve(state=state, epoch=self.conv.epoch + 1, **changes)

    def update(self, **changes: Any) -> None:
        """Change the conversation's values without a change of owner (same epoch)."""
        self.conv = self.conv.evolve(**changes)

    def done(self) -> Transition:
        return Transition(self.conv, tuple(self.effects))


#: A transition: called with the context for one (state, event type) pair of the table;
#: returns the result and raises nothing (an event it cannot use is STALE or REFUSED).
Handler = Callable[[TransitionContext], Transition]
#: A group's share of the transition table: (state, event type) -> handler.
TableRows = Mapping[tuple[State, type[ev.Event]], Handler]
