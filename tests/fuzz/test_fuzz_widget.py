"""The web widget's socket with junk frames: every frame gets an answer (an error
frame or a close with a code), never a hang, and the socket still works after a
refusal that did not close it."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from hypothesis import event, given
from hypothesis import strategies as st

from tests.fuzz.stack import ORIGIN, FuzzStack
from tests.fuzz.strategies import FUZZ, ids, json_values, nested_json, shaped, text

frames = st.one_of(
    shaped(type=st.just("message"), message_id=ids, text=text, payload=text),
    shaped(type=st.just("action"), action=st.sampled_from(["request_agent", "leave", "x"]),
           action_id=ids, context=json_values),
    shaped(type=st.just("typing"), on=st.booleans()),
    shaped(type=st.sampled_from(["hello", "ping", "welcome", "", "x"])),
    json_values,
)
hellos = shaped(type=st.just("hello"), tenant=st.sampled_from(["demo", "ander", "x"]),
                language=st.sampled_from(["nl", "en", "xx"]), conversation_id=ids,
                token=text, last_seq=json_values, context=json_values)


async def _session(stack: FuzzStack, first: Any, then: list[Any],
                   raw: bytes | str | None) -> list[str]:
    """Send the frames; returns what came back, ending with 'pong' or 'closed:<code>'."""
    seen: list[str] = []
    async with stack.http.ws_connect(f"{stack.url}/web/ws?tenant=demo",
                                     headers={"Origin": ORIGIN}) as ws:
        await ws.send_str(json.dumps(first))
        for frame in then:
            await ws.send_str(json.dumps(frame))
        if isinstance(raw, str):
            await ws.send_str(raw)
        elif raw is not None:
            await ws.send_bytes(raw)
        await ws.send_str('{"type": "ping"}')
        while True:
            msg = await ws.receive(timeout=10)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                seen.append(f"closed:{ws.close_code}")
                return seen
            kind = json.loads(msg.data).get("type")
            seen.append(kind)
            if kind == "pong":
                return seen


@FUZZ
@given(first=st.one_of(hellos, frames), then=st.lists(frames, max_size=4),
       raw=st.one_of(st.none(), st.binary(max_size=50),
                     nested_json.filter(lambda b: len(b) < 4000).map(bytes.decode)))
def test_widget_frames(stack: FuzzStack, first: Any, then: list[Any],
                       raw: bytes | str | None) -> None:
    seen = stack.call(_session(stack, first, then, raw))
    event(f"ended with {seen[-1]}")
    # The socket either answered the final ping or was closed with a reason code
    # (a policy/protocol close, not a crash: 1011 is the server's internal error).
    assert seen[-1] == "pong" or (seen[-1].startswith("closed:")
                                  and seen[-1] != "closed:1011"), seen
    if "welcome" not in seen and "error" not in seen:
        # Without a welcome nothing but a refusal can have happened.
        assert seen[-1].startswith("closed:"), seen


@FUZZ
@given(then=st.lists(frames, min_size=1, max_size=4))
def test_widget_frames_after_a_good_hello(stack: FuzzStack, then: list[Any]) -> None:
    seen = stack.call(_session(stack, {"type": "hello", "tenant": "demo"}, then, None))
    event(f"ended with {seen[-1]}")
    assert seen[0] == "welcome", seen
    assert seen[-1] == "pong" or (seen[-1].startswith("closed:")
                                  and seen[-1] != "closed:1011"), seen
