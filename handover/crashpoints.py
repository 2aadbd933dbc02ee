"""Named crash points for the crash tests: the process kills itself at a chosen step.

Set HANDOVER_CRASH_AT=<point>[:<n>] to die with SIGKILL the n-th time (default 1st) the
daemon passes `<point>`. Unset (always, in production) a check costs one comparison.
Points: router.after_commit (inbound event durable, not yet acknowledged),
delivery.before_send, delivery.after_send (sent, not yet marked as sent).
"""

from __future__ import annotations

import os
import signal

_spec = os.environ.get("HANDOVER_CRASH_AT")
_point, _, _nth = (_spec or "").partition(":")
_remaining = int(_nth) if _nth.isdigit() else 1


def crash_point(name: str) -> None:
    """Die here with SIGKILL if this point was chosen (and its count is reached)."""
    global _remaining
    if _spec is None or name != _point:
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
