"""Named crash points for the crash tests: the process kills itself at a chosen step.

Set HANDOVER_CRASH_AT=<point>[@<kind>][:<n>] to die with SIGKILL the n-th time (default
the 1st) the daemon passes `<point>` (for an outbox kind: only items of that kind).
Unset (always, in production) a check costs one comparison.

Every durable step has a point just after its write, where a crash leaves the write
done and its consequence (the answer, the next write, the send) undone:

- router.before_commit: an inbound event (citizen message, webhook, desk action, survey
  answer, timer, follow-up) was decided, nothing written;
- router.after_commit: it is durable (inbox key, transcript, outbox, timers), not yet
  acknowledged to whoever sent it;
- delivery.before_send@<kind>: an outbox item is leased (and marked in flight where
  the target is not resend-safe), not yet sent;
- delivery.after_send@<kind>: sent, the target has it, nothing recorded;
- delivery.after_follow_up@<kind>: a bot reply, availability answer or a target's
  confirmation of a registration was ingested, the item that asked for it is not yet
  completed;
- delivery.after_complete@<kind>: the item is gone from the outbox (removed by a
  batch or by a later step, see handover/engine/handoff.py);
- delivery.after_batch: a batch of the worker's own bookkeeping (completions, marks in
  flight, releases) is written; the sends it marked have not started;
- delivery.after_reschedule@<kind>: a failed send's retry is stored;
- delivery.after_failure_told@<kind>: the core was told an item failed for good, the
  item is not yet dead-lettered;
- delivery.after_dead_letter@<kind>: the item is dead-lettered;
- timers.before_fire: a due timer was read, its event not yet ingested.

The callback request's steps (the registration written, delivered, confirmed) are
exercised in tests/e2e/test_crash_callback.py.
"""

from __future__ import annotations

import os
import signal

_spec = os.environ.get("HANDOVER_CRASH_AT")
_point, _, _nth = (_spec or "").partition(":")
_remaining = int(_nth) if _nth.isdigit() else 1

#: Every point the daemon passes (the crash tests check they cover them all).
POINTS = (
    "router.before_commit",
    "router.after_commit",
    "delivery.before_send",
    "delivery.after_send",
    "delivery.after_follow_up",
    "delivery.after_complete",
    "delivery.after_batch",
    "delivery.after_reschedule",
    "delivery.after_failure_told",
    "delivery.after_dead_letter",
    "timers.before_fire",
)


def crash_point(name: str, kind: str = "") -> None:
    """Die here with SIGKILL if this point (or this point for this kind) was chosen."""
    global _remaining
    if _spec is None:
        return
    if name != _point and f"{name}@{kind}" != _point:
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
