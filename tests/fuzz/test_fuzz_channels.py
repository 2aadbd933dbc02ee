"""The WhatsApp webhook and the VoiceAI Connect bot API with junk and wrong-shaped
payloads: never a 5xx, never a hang, and what is unsigned or unauthorised is refused
before it is read (health and the accepted conversation: see conftest)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.stack import ENV, VOICE_TOKEN, FuzzStack
from tests.fuzz.strategies import FUZZ, bodies, header_text, ids, json_values, shaped, text
from tests.fuzz.test_fuzz_http import _query, check

JSON = {"Content-Type": "application/json"}

wa_messages = shaped(
    id=ids, type=st.sampled_from(["text", "interactive", "image", "document", "audio",
                                  "location", "reaction", "sticker", "unsupported", "x"]),
    timestamp=text, text=shaped(body=text),
    interactive=shaped(type=st.sampled_from(["button_reply", "list_reply"]),
                       button_reply=shaped(id=ids, title=text),
                       list_reply=shaped(id=ids, title=text)),
    image=shaped(id=ids, mime_type=text, sha256=text), location=json_values,
)
wa_statuses = shaped(id=ids, status=st.sampled_from(["sent", "delivered", "read", "failed"]),
                     timestamp=text, recipient_id=ids, errors=json_values,
                     biz_opaque_callback_data=text)


@st.composite
def wa_payloads(draw: st.DrawFn) -> dict[str, Any]:
    sender = draw(st.sampled_from(["31612345678", "", "x"]))
    messages = [{**m, "from": sender} for m in draw(st.lists(wa_messages, max_size=3))]
    value = draw(shaped(
        messaging_product=st.just("whatsapp"),
        metadata=shaped(phone_number_id=st.sampled_from(["1065550001", "999"])),
        contacts=st.just([{"profile": {"name": "Inwoner"}, "wa_id": sender}]),
        messages=st.just(messages), statuses=st.lists(wa_statuses, max_size=3),
    ))
    return draw(shaped(object=st.just("whatsapp_business_account"), entry=st.just(
        [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}])))


def _signed(raw: bytes) -> dict[str, str]:
    digest = hmac.new(ENV["WA_SECRET"].encode(), raw, hashlib.sha256).hexdigest()
    return {**JSON, "X-Hub-Signature-256": f"sha256={digest}"}


@FUZZ
@given(payload=st.one_of(wa_payloads().map(lambda p: json.dumps(p).encode()),
                         bodies(json_values)),
       raw=st.binary(max_size=100))
def test_whatsapp_webhook_signed_and_unsigned(stack: FuzzStack, payload: bytes,
                                              raw: bytes) -> None:
    status, answer = stack.call(stack.request("POST", "/wa/webhook", data=payload,
                                              headers=_signed(payload)))
    assert status < 500, answer[:300]
    bad = hmac.new(b"not-the-secret", raw, hashlib.sha256).hexdigest()
    for headers in (JSON, {**JSON, "X-Hub-Signature-256": f"sha256={bad}"}):
        status, answer = stack.call(stack.request("POST", "/wa/webhook", data=raw,
                                                  headers=headers))
        assert 400 <= status < 500, answer


@FUZZ
@given(mode=text, token=text, challenge=text)
def test_whatsapp_verification(stack: FuzzStack, mode: str, token: str, challenge: str) -> None:
    query = _query({"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge})
    status, answer = stack.call(stack.request("GET", f"/wa/webhook?{query}"))
    assert status < 500, answer[:300]


activities = shaped(
    id=ids, timestamp=text, type=st.sampled_from(["message", "event", "x"]), text=text,
    name=st.sampled_from(["start", "DTMF", "noUserInput", "transferStatus", "hangup", "x"]),
    value=json_values, parameters=json_values,
)


@FUZZ
@given(create=bodies(shaped(conversation=ids, id=ids, timestamp=text)),
       turn=bodies(shaped(conversation=ids, activities=st.lists(activities, max_size=3))),
       auth=st.one_of(st.just(VOICE_TOKEN), header_text))
def test_voiceai_bot_api(stack: FuzzStack, create: bytes, turn: bytes, auth: str) -> None:
    headers = {**JSON, "Authorization": f"Bearer {auth}"}
    status, raw = stack.call(stack.request("POST", "/phone/bots/demo", data=create,
                                           headers=headers))
    assert status < 500, raw[:300]
    # A call opened properly, then fuzzed turns on it.
    good = json.dumps({"conversation": "fuzz-call", "id": "x", "timestamp": "2026-01-01"})
    status, raw = stack.call(stack.request(
        "POST", "/phone/bots/demo", data=good.encode(),
        headers={**JSON, "Authorization": f"Bearer {VOICE_TOKEN}"}))
    assert status < 300, raw[:300]
    urls = json.loads(raw)
    for key in ("activitiesURL", "refreshURL", "disconnectURL"):
        path = urls[key]
        if not path.startswith("/"):
            path = "/phone/bots/" + path
        check(*stack.call(stack.request("POST", path, data=turn, headers=headers)))
