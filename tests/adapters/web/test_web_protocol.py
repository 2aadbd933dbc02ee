"""The frame parser: any input is a frame or a FrameError, never anything else."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.web import wire
from adapters.web.wire import FrameError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=10,
)
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(["hello", "message", "action", "typing", "ping", "x"])},
    optional={k: json_values for k in ("message_id", "action_id", "action", "text", "payload",
                                        "on", "context", "tenant", "token", "conversation_id",
                                        "last_seq")},
)


@settings(max_examples=150, deadline=None)
@given(frame=frames)
def test_any_frame_is_accepted_or_refused_with_a_frame_error(frame: dict[str, Any]) -> None:
    raw = json.dumps(frame)
    for parse in (lambda r: wire.parse_client_frame(r, 100), wire.parse_hello):
        try:
            parsed = parse(raw)
        except FrameError as exc:
            assert exc.code and exc.detail
        else:
            assert parsed is not None


@settings(max_examples=100, deadline=None)
@given(raw=st.text(max_size=200))
def test_any_text_is_accepted_or_refused_with_a_frame_error(raw: str) -> None:
    with contextlib.suppress(FrameError):
        wire.parse_client_frame(raw, 100)


def test_a_message_frame_round_trips_the_widget_fields() -> None:
    frame = wire.parse_client_frame(
        json.dumps({"type": "message", "message_id": "m-1", "text": "hoi", "payload": "/x"}), 10)
    assert frame == wire.MessageFrame("m-1", "hoi", "/x")
    hello = wire.parse_hello(json.dumps({"type": "hello", "tenant": "demo",
                                             "conversation_id": "c", "token": "t",
                                             "last_seq": 4, "context": {"url": "u"}}))
    assert (hello.conversation_id, hello.token, hello.last_seq, dict(hello.context)) == (
        "c", "t", 4, {"url": "u"})
