"""The typing hint that crosses instances: what it carries and what it refuses."""

from __future__ import annotations

import pytest

from handover.daemon.typing_relay import TypingHint


@pytest.mark.parametrize("on", [True, False])
def test_a_hint_reads_back_as_written(on: bool) -> None:
    hint = TypingHint("host-12-ab:cd", "c0nv-1:2", on)
    assert TypingHint.decode(hint.encode()) == hint


@pytest.mark.parametrize("text", [
    "outbox", "timers", "typing:", "typing:2:3:abcconv", "typing:1:x:abc", "typing:1:9:abc",
    "typing:1:3:abc", "typing:1:0:conv",
])
def test_anything_else_is_not_a_typing_hint(text: str) -> None:
    assert TypingHint.decode(text) is None
