"""The conversation control state machine: a transition table and a pure function.

`transition(conversation, event, policy, env)` returns the conversation's new values and
the effects to execute. It performs no I/O and reads no clock: everything it needs is in
its arguments, so every (state, event) pair is table-tested.

Exactly one party speaks to the citizen at a time. Each change of state increments the
conversation's control epoch; a bot reply or timer produced under an older epoch, and a
desk event about a thread that is no longer live, is STALE: dropped and counted.

The package is split by group of states: `bot`, `handover` (consent, availability check,
queue), `agent`, `survey`, `transfer` (call transfer), `callback` (the callback
request), plus `timers` and `failures` (events valid in every state). `table`
assembles their rows into the one `TABLE`; `types` holds the vocabulary they share,
`common` the pieces, `effects` the effects.
Callers use the names below.
"""

from __future__ import annotations

from handover.control.table import STALE_TYPES, TABLE, transition
from handover.control.types import (
    AGENT_INACTIVE,
    CALLBACK_TIMEOUT,
    CITIZEN_INACTIVE,
    CONSENT_BUTTONS,
    CONSENT_NO,
    CONSENT_TIMEOUT,
    CONSENT_YES,
    INTERNAL_CONTEXT_KEYS,
    QUEUE_TIMEOUT,
    SKIP_PAYLOAD,
    SURVEY_BUTTONS,
    SURVEY_TIMEOUT,
    Env,
    Handler,
    Outcome,
    Policy,
    Transition,
    TransitionContext,
    public_context,
)

__all__ = [
    "AGENT_INACTIVE",
    "CALLBACK_TIMEOUT",
    "CITIZEN_INACTIVE",
    "CONSENT_BUTTONS",
    "CONSENT_NO",
    "CONSENT_TIMEOUT",
    "CONSENT_YES",
    "INTERNAL_CONTEXT_KEYS",
    "QUEUE_TIMEOUT",
    "SKIP_PAYLOAD",
    "STALE_TYPES",
    "SURVEY_BUTTONS",
    "SURVEY_TIMEOUT",
    "TABLE",
    "Env",
    "Handler",
    "Outcome",
    "Policy",
    "Transition",
    "TransitionContext",
    "public_context",
    "transition",
]
