"""Adapter tests use the shipped test kit's fake core (`handover.sdk.testing.FakeContext`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handover.sdk.testing import TENANT, FakeContext

__all__ = ["TENANT", "FakeContext", "make_ctx"]


@pytest.fixture
def make_ctx() -> Callable[..., FakeContext]:
    """Build a FakeContext: `make_ctx("web")`, `make_ctx("desk", tenants=[...])`."""
    return FakeContext
