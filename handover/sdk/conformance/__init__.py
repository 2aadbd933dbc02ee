"""The adapter conformance suite: the rules of the adapter contract, as tests.

An adapter package describes its adapter in a `ConformanceCase` (class, minimal valid
config, optionally an `InboundHook` that builds a valid inbound request and an
`UpstreamHook` with a fake of the remote service) and gets one test per check from
`conformance_tests(case)`. See docs/adapters.md for the rules and an example.
"""

from __future__ import annotations

from handover.sdk.conformance.case import ConformanceCase, InboundHook, UpstreamHook
from handover.sdk.conformance.checks import CHECKS, NotApplicable
from handover.sdk.conformance.run import ConformanceRun
from handover.sdk.conformance.suite import conformance_tests, run_check, run_checks

__all__ = [
    "CHECKS",
    "ConformanceCase",
    "ConformanceRun",
    "InboundHook",
    "NotApplicable",
    "UpstreamHook",
    "conformance_tests",
    "run_check",
    "run_checks",
]
