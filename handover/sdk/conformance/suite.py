"""The conformance checks as pytest tests: `conformance_tests(case)` makes a test class.

In an adapter package's tests:

    from handover.sdk.conformance import ConformanceCase, conformance_tests
    from my_adapter.adapter import MyDesk

    TestMyDeskConformance = conformance_tests(ConformanceCase(MyDesk, {"url": "..."}))

Each check is a plain (synchronous) test that runs in its own event loop, so the suite
needs no asyncio plugin and `stop_cancels_tasks` sees only the adapter's tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from handover.sdk.conformance.case import ConformanceCase
from handover.sdk.conformance.checks import CHECKS, Check, NotApplicable


def run_check(case: ConformanceCase, name: str) -> str | None:
    """Run one check; None when it passed, the reason when it does not apply.

    Raises AssertionError when the adapter fails it."""
    try:
        asyncio.run(CHECKS[name](case))
    except NotApplicable as exc:
        return str(exc) or "not applicable"
    return None


def run_checks(case: ConformanceCase) -> dict[str, str | None]:
    """Run every check without pytest; raises AssertionError at the first failure.

    Returns what `run_check` returned per check name."""
    return {name: run_check(case, name) for name in CHECKS}


def _test(case: ConformanceCase, name: str, check: Check) -> Callable[[Any], None]:
    def test(self: Any) -> None:
        import pytest  # only the pytest form needs pytest installed

        reason = run_check(case, name)
        if reason is not None:
            pytest.skip(reason)

    test.__name__ = f"test_{name}"
    test.__doc__ = check.__doc__
    return test


def conformance_tests(case: ConformanceCase) -> type:
    """A pytest test class with one test per conformance check for `case`.

    Bind it to a module-level name starting with `Test` so pytest collects it."""
    attrs: dict[str, Any] = {
        f"test_{name}": _test(case, name, check) for name, check in CHECKS.items()
    }
    attrs["case"] = case
    attrs["__doc__"] = f"Conformance of {case.label} to the adapter contract."
    return type(f"Test{case.adapter.__name__}Conformance", (), attrs)
