"""The fuzz tests share one daemon (see stack.py) and a conversation accepted before
any fuzzing, which must still be intact afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fuzz.stack import FuzzStack


@dataclass
class Accepted:
    conversation_id: str
    token: str
    text: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzStack]:
    s = FuzzStack(Path(tmp_path_factory.mktemp("fuzz"))).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def accepted(stack: FuzzStack) -> Accepted:
    body = json.dumps({"tenant": "ander", "language": "nl"}).encode()
    status, raw = stack.call(stack.request("POST", "/rest/conversations", data=body,
                                           headers={"Content-Type": "application/json"}))
    assert status == 201, raw
    created = json.loads(raw)
    cid, token = created["conversation_id"], created["token"]
    msg = json.dumps({"message_id": "vooraf", "text": "Wanneer wordt het afval opgehaald?"})
    status, raw = stack.call(stack.request(
        "POST", f"/rest/conversations/{cid}/messages", data=msg.encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}))
    assert status == 202, raw
    return Accepted(cid, token, "Wanneer wordt het afval opgehaald?")


@pytest.fixture(autouse=True)
def still_healthy(stack: FuzzStack, accepted: Accepted) -> Iterator[None]:
    """After each fuzz test: the daemon answers and nothing accepted before is lost."""
    yield
    assert stack.healthy()
    status, raw = stack.call(stack.request(
        "GET", f"/rest/conversations/{accepted.conversation_id}/messages?after=0",
        headers={"Authorization": f"Bearer {accepted.token}"}))
    assert status == 200, raw
    said = [m["content"]["text"] for m in json.loads(raw)["messages"]
            if m["party"] == "citizen"]
    assert said == [accepted.text]
