"""Every inbound HTTP surface with junk and wrong-shaped bodies: never a 5xx, never a
hang, a JSON error for what is refused (the daemon health and the accepted
conversation are checked after each test, in conftest)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.fuzz.stack import ADMIN_TOKEN, AGENT_TOKEN, CALLBACK_TOKEN, FuzzStack
from tests.fuzz.strategies import (
    FUZZ,
    bodies,
    header_text,
    ids,
    json_values,
    nested_json,
    shaped,
    text,
)

JSON = {"Content-Type": "application/json"}


def check(status: int, raw: bytes) -> None:
    event(f"HTTP {status}")  # --hypothesis-show-statistics: what the inputs reached
    assert status < 500, raw[:300]
    if status >= 400:
        # A refusal says what was wrong, in a form a client can read.
        body = json.loads(raw)
        assert isinstance(body, dict) and body.get("error"), body


@pytest.fixture(scope="module")
def rest_conv(stack: FuzzStack) -> tuple[str, dict[str, str]]:
    """A REST conversation of its own for the message fuzzing."""
    status, raw = stack.call(stack.request(
        "POST", "/rest/conversations", data=b'{"tenant": "ander"}', headers=JSON))
    assert status == 201
    created = json.loads(raw)
    return created["conversation_id"], {**JSON, "Authorization": f"Bearer {created['token']}"}


conversation_bodies = bodies(shaped(
    tenant=st.sampled_from(["demo", "ander", "nope"]), language=st.sampled_from(["nl", "en"]),
    context=st.dictionaries(text, json_values, max_size=3),
))
message_bodies = bodies(shaped(message_id=ids, text=text, payload=text))
action_bodies = bodies(shaped(action=st.sampled_from(["request_agent", "leave", "x"]),
                              action_id=ids, context=json_values))


@FUZZ
@given(body=conversation_bodies)
def test_rest_open(stack: FuzzStack, body: bytes) -> None:
    check(*stack.call(stack.request("POST", "/rest/conversations", data=body, headers=JSON)))


@FUZZ
@given(kind=st.sampled_from(["messages", "actions"]), body=st.one_of(message_bodies,
                                                                      action_bodies))
def test_rest_messages_and_actions(stack: FuzzStack, rest_conv: tuple[str, dict[str, str]],
                                   kind: str, body: bytes) -> None:
    cid, headers = rest_conv
    check(*stack.call(stack.request("POST", f"/rest/conversations/{cid}/{kind}",
                                    data=body, headers=headers)))


@FUZZ
@given(after=text, cid=ids, token=st.one_of(st.none(), header_text),
       # A valid wait is honoured (a long poll): keep the valid ones short.
       wait=st.one_of(text.filter(lambda w: not _is_number(w)),
                      st.floats(0, 0.2).map(str),
                      st.sampled_from(["inf", "nan", "-1", "1e999", "9" * 400])))
def test_rest_poll_and_foreign_ids(stack: FuzzStack, rest_conv: tuple[str, dict[str, str]],
                                   after: str, wait: str, cid: str, token: str | None) -> None:
    own, headers = rest_conv
    # (Kept under aiohttp's 8 KiB request line, which its parser refuses as plain text.)
    query = {"after": after[:1000], "wait": wait[:1000]}
    check(*stack.call(stack.request(
        "GET", f"/rest/conversations/{own}/messages?" + _query(query), headers=headers)))
    other = {"Authorization": f"Bearer {token}"} if token else {}
    check(*stack.call(stack.request(
        "POST", f"/rest/conversations/{_seg(cid)}/messages", data=b"{}",
        headers={**JSON, **other})))


@FUZZ
@given(method_path=st.sampled_from([
    ("GET", "/admin/conversations/{}"), ("DELETE", "/admin/conversations/{}"),
    ("POST", "/admin/dead-letters/{}/replay"), ("GET", "/admin/dead-letters?limit={}"),
]), arg=ids, auth=st.one_of(st.just(ADMIN_TOKEN), header_text))
def test_admin(stack: FuzzStack, method_path: tuple[str, str], arg: str, auth: str) -> None:
    method, path = method_path
    check(*stack.call(stack.request(method, path.format(_seg(arg)),
                                    headers={"Authorization": f"Bearer {auth}"})))


@FUZZ
@given(action=st.sampled_from(["pickup", "messages", "typing", "close"]), thread=ids,
       body=bodies(shaped(text=text, message_id=ids, outcome=text, on=st.booleans())),
       auth=st.one_of(st.just(AGENT_TOKEN), header_text))
def test_console_api(stack: FuzzStack, action: str, thread: str, body: bytes,
                     auth: str) -> None:
    check(*stack.call(stack.request(
        "POST", f"/kcc/api/threads/{_seg(thread)}/{action}", data=body,
        headers={**JSON, "Authorization": f"Bearer {auth}"})))


@FUZZ
@given(token=st.one_of(st.just(CALLBACK_TOKEN), text),
       body=bodies(shaped(recipient_id=ids, text=text, buttons=json_values,
                          custom=json_values, image=text)))
def test_rasa_callback(stack: FuzzStack, token: str, body: bytes) -> None:
    check(*stack.call(stack.request(
        "POST", "/gem/callback?" + _query({"token": token}), data=body, headers=JSON)))


webhook_events = shaped(
    eventId=ids, type=st.sampled_from(["message.created", "agent.joined", "thread.closed",
                                       "thread.transferred", "typing", "x"]),
    threadId=ids, channelIdentifier=text, occurredAt=text,
    agent=shaped(id=ids, name=text), message=shaped(id=ids, content=text,
                                                    attachments=json_values),
    outcome=text,
)


@FUZZ
@given(event=webhook_events, raw=st.one_of(st.binary(max_size=100), nested_json),
       stamp=header_text, signature=header_text)
def test_obi4wan_webhook_signed_and_unsigned(stack: FuzzStack, event: dict[str, Any],
                                             raw: bytes, stamp: str, signature: str) -> None:
    body = json.dumps(event).encode()
    # Signed with the right secret: it reaches the parser.
    check(*stack.call(stack.request("POST", "/desk/webhook", data=body,
                                    headers=stack.obi.signed_headers(body))))
    # Unsigned, signed with another secret, or with junk (huge, non-numeric) timestamp
    # and signature headers: refused before anything is read.
    junk = {**JSON, "X-OBI4wan-Timestamp": stamp, "X-OBI4wan-Signature": signature}
    for headers in (JSON, stack.obi.signed_headers(raw, secret="not-the-secret"), junk):
        status, answer = stack.call(stack.request("POST", "/desk/webhook", data=raw,
                                                  headers=headers))
        assert 400 <= status < 500, answer


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _seg(value: str) -> str:
    from urllib.parse import quote

    # Lone surrogates cannot be sent as UTF-8; send their bytes as a client could.
    return quote(value.encode("utf-8", "surrogatepass"), safe="") or "x"


def _query(fields: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()})
