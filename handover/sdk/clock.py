"""Time as adapters get it: `AdapterContext.clock`; `FakeClock` for tests.
"""

from __future__ import annotations

from handover.clock import (
    Clock,
    FakeClock,
    SystemClock,
)

__all__ = [
    "Clock",
    "FakeClock",
    "SystemClock",
]
