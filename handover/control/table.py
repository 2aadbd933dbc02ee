"""The one transition table, assembled here from the groups, and `transition()`.

Each group module lists its own rows (`TRANSITIONS`); this module is the only place
they are combined, and no module adds rows later: what is in `GROUPS` is the table.
A (state, event type) pair may be listed by one group only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from handover import events as ev
from handover.control import agent, bot, callback, failures, survey, timers, transfer
from handover.control import handover as handover_requests
from handover.control.common import refused, stale
from handover.control.types import Env, Handler, Policy, TableRows, Transition, TransitionContext
from handover.model import Conversation, State

#: The groups of transitions by name, each with its rows.
GROUPS: Mapping[str, TableRows] = MappingProxyType(
    {
        "bot": bot.TRANSITIONS,
        "handover": handover_requests.TRANSITIONS,
        "agent": agent.TRANSITIONS,
        "survey": survey.TRANSITIONS,
        "transfer": transfer.TRANSITIONS,
        "callback": callback.TRANSITIONS,
        "timers": timers.TRANSITIONS,
        "failures": failures.TRANSITIONS,
    }
)


def combine(groups: Mapping[str, TableRows]) -> dict[tuple[State, type[ev.Event]], Handler]:
    """One table from the groups' rows. Raises ValueError if two groups list a pair."""
    table: dict[tuple[State, type[ev.Event]], Handler] = {}
    owner: dict[tuple[State, type[ev.Event]], str] = {}
    for name, rows in groups.items():
        for pair, handler in rows.items():
            if pair in table:
                state, event_type = pair
                raise ValueError(
                    f"({state}, {event_type.__name__}) is listed by {owner[pair]} and {name}"
                )
            table[pair] = handler
            owner[pair] = name
    return table


#: The transition table, read-only. A pair that is missing is refused, except for work
#: that refers to an epoch or a desk thread (`STALE_TYPES`): that is stale.
TABLE: Mapping[tuple[State, type[ev.Event]], Handler] = MappingProxyType(combine(GROUPS))

#: Work that carries an epoch or a thread is stale outside its state, never "refused":
#: it was valid when it was produced.
STALE_TYPES: tuple[type[ev.Event], ...] = (
    ev.BotReplied,
    ev.BotFailed,
    ev.AvailabilityChecked,
    ev.DeliveryDelayed,
    ev.DeskEvent,
)


def transition(conv: Conversation, event: ev.Event, policy: Policy, env: Env) -> Transition:
    """Apply one event to a conversation. Pure: no I/O, no clock."""
    ctx = TransitionContext(conv, event, policy, env)
    handler = TABLE.get((conv.state, type(event)))
    if handler is None:
        if isinstance(event, STALE_TYPES):
            return stale(ctx, f"{type(event).__name__} in {conv.state}")
        return refused(ctx, f"{type(event).__name__} in {conv.state}")
    return handler(ctx)
