"""The notice that a conversation moved on, for tabs held by other instances."""

from __future__ import annotations

import pytest

from handover.daemon.peer_notice import PeerNotice
from handover.daemon.typing_relay import TypingHint


def test_a_notice_reads_back_as_written() -> None:
    notice = PeerNotice("host-12-ab:cd", "web:2", "c0nv-1:2")
    assert PeerNotice.decode(notice.encode()) == notice


@pytest.mark.parametrize("text", [
    "outbox", "timers", "peer:", "peer:3:abc", "peer:3:abc3:web", "peer:x:abc3:webconv",
    "peer:9:abc3:webconv", "peer:0:3:webconv", "peer:3:abc0:conv",
    TypingHint("a", "conv", True).encode(),
])
def test_anything_else_is_not_a_notice(text: str) -> None:
    assert PeerNotice.decode(text) is None
