"""The admin API: bearer authentication, token rotation, each endpoint and its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from handover.clock import FakeClock
from handover.daemon.health import HealthBoard
from handover.http.admin import admin_routes
from handover.http.middleware import draining_middleware, error_middleware
from handover.http.ops import ops_routes
from handover.model import (
    Content,
    Conversation,
    OutboxItem,
    Party,
    State,
    Target,
    TranscriptEntry,
)
from handover.store.base import Step, Store
from handover.store.sqlite.store import SQLiteStore

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]

OLD = "old-token-0123456789abcdef0123456789"
NEW = "new-token-fedcba9876543210fedcba9876"
CONV = "0123456789abcdef0123456789abcdef"
OTHER = "ffffffffffffffffffffffffffffffff"


@dataclass
class FakeView:
    store: Store
    health: HealthBoard = field(default_factory=HealthBoard)
    draining: bool = False
    admin_tokens: tuple[str, ...] = (OLD, NEW)
    expected_schema_version: int = 1
    clock: FakeClock = field(default_factory=FakeClock)
    wakes: int = 0

    def now(self) -> datetime:
        return self.clock.now()

    def wake_delivery(self) -> None:
        self.wakes += 1


def auth(token: str = NEW) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "handover.db", clock=clock)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def view(store: SQLiteStore, clock: FakeClock) -> FakeView:
    return FakeView(store=store, clock=clock)


@pytest.fixture
async def client(aiohttp_client: MakeClient, view: FakeView) -> Client:
    app = web.Application(middlewares=[error_middleware, draining_middleware(view)])
    app.add_routes(ops_routes(view))
    app.add_routes(admin_routes(view))
    return await aiohttp_client(app)


async def _seed(store: Store, clock: FakeClock) -> None:
    """One conversation held by an agent: two turns, a desk note, two pending items."""
    now = clock.now()
    conv = Conversation(
        id=CONV,
        tenant="utrecht",
        channel="whatsapp",
        channel_key="+31612345678",
        language="nl",
        state=State.AGENT,
        epoch=3,
        handover_no=1,
        seq=2,
        agent_name="Sanne",
        context={"topic": "afval"},
        created_at=now,
        updated_at=now,
    )
    await store.commit(
        Step(
            conversation=conv,
            transcript=[
                TranscriptEntry(CONV, 1, Party.CITIZEN, Content("hallo"), "m1", created_at=now),
                TranscriptEntry(
                    CONV, 2, Party.AGENT, Content("Goedemiddag"), "m2", "Sanne", now, 1
                ),
                TranscriptEntry(CONV, 0, Party.SYSTEM, Content("note: via bot"), "n1"),
            ],
            outbox=[
                OutboxItem(CONV, Target.CITIZEN, "message", {"text": "Goedemiddag"}, 3),
                OutboxItem(CONV, Target.DESK, "note", {"text": "x"}, 3),
            ],
        )
    )


async def _dead_letter(store: Store, clock: FakeClock, target: Target = Target.CITIZEN) -> int:
    """Dead-letter the head of one of the seeded queues, the way a worker would."""
    rows = await store.claim("w", clock.now(), 30, 10)
    (row,) = [r for r in rows if r.target is target]
    dead = await store.dead_letter(row.id, "w", "permanent: 400 bad request", clock.now())
    await store.release_leases("w")
    assert dead is not None
    return dead.id


# --- authentication ----------------------------------------------------------------


async def test_missing_token_is_401(client: Client) -> None:
    resp = await client.get("/admin/dead-letters")
    assert resp.status == 401
    assert (await resp.json())["error"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", NEW])
async def test_non_bearer_header_is_401(client: Client, header: str) -> None:
    resp = await client.get("/admin/dead-letters", headers={"Authorization": header})
    assert resp.status == 401


@pytest.mark.parametrize("token", ["wrong", NEW[:-1], NEW + "x", "nieuw-tökén"])
async def test_wrong_token_is_403(client: Client, token: str) -> None:
    resp = await client.get("/admin/dead-letters", headers=auth(token))
    assert resp.status == 403
    assert (await resp.json())["error"] == "forbidden"


@pytest.mark.parametrize("token", [OLD, NEW])
async def test_both_rotation_tokens_work(client: Client, token: str) -> None:
    resp = await client.get("/admin/dead-letters", headers=auth(token))
    assert resp.status == 200


async def test_scheme_is_case_insensitive(client: Client) -> None:
    resp = await client.get("/admin/dead-letters", headers={"Authorization": f"bearer {NEW}"})
    assert resp.status == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/admin/conversations/{CONV}"),
        ("DELETE", f"/admin/conversations/{CONV}"),
        ("GET", "/admin/dead-letters"),
        ("POST", "/admin/dead-letters/1/replay"),
        ("GET", "/admin"),
        ("GET", "/admin/anything/else"),
        ("PUT", f"/admin/conversations/{CONV}"),
    ],
)
async def test_disabled_admin_is_404_everywhere(
    client: Client, view: FakeView, method: str, path: str
) -> None:
    view.admin_tokens = ()
    resp = await client.request(method, path, headers=auth())
    assert resp.status == 404
    resp = await client.request(method, path)
    assert resp.status == 404


async def test_unknown_admin_paths_need_auth_first(client: Client) -> None:
    assert (await client.get("/admin/secret-stuff")).status == 401
    assert (await client.get("/admin/secret-stuff", headers=auth())).status == 404
    # A wrong method on a known path does not reveal it either.
    assert (await client.put(f"/admin/conversations/{CONV}")).status == 401
    assert (await client.put(f"/admin/conversations/{CONV}", headers=auth())).status == 404


async def test_token_is_never_logged(
    client: Client, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    await client.get("/admin/dead-letters", headers=auth("guess-" + NEW))
    await client.get("/admin/dead-letters", headers=auth())
    out = capsys.readouterr()
    logged = out.out + out.err + caplog.text
    assert NEW not in logged
    assert OLD not in logged


# --- conversations -----------------------------------------------------------------


async def test_get_conversation(client: Client, store: SQLiteStore, clock: FakeClock) -> None:
    await _seed(store, clock)
    resp = await client.get(f"/admin/conversations/{CONV}", headers=auth())
    assert resp.status == 200
    body = await resp.json()
    conv = body["conversation"]
    assert conv["id"] == CONV
    assert conv["tenant"] == "utrecht"
    assert conv["channel"] == "whatsapp"
    assert conv["state"] == "agent"
    assert (conv["epoch"], conv["handover_no"], conv["seq"]) == (3, 1, 2)
    assert conv["agent_name"] == "Sanne"
    assert conv["language"] == "nl"
    assert conv["context"] == {"topic": "afval"}
    assert conv["created_at"].startswith("2026-03-02T09:00")
    assert conv["updated_at"] is not None
    assert "channel_key" not in conv  # the citizen's phone number stays out
    assert "+31612345678" not in await resp.text()

    assert [(e["seq"], e["party"], e["content"]["text"]) for e in body["transcript"]] == [
        (1, "citizen", "hallo"),
        (2, "agent", "Goedemiddag"),
    ]
    assert body["transcript_truncated"] is False
    assert [e["content"]["text"] for e in body["desk_notes"]] == ["note: via bot"]
    outbox = body["outbox"]
    assert [(o["target"], o["kind"], o["attempts"], o["last_error"]) for o in outbox] == [
        ("citizen", "message", 0, None),
        ("desk", "note", 0, None),
    ]
    assert all(o["created_at"] for o in outbox)
    assert all("payload" not in o for o in outbox)


async def test_get_conversation_uppercase_id_is_normalised(
    client: Client, store: SQLiteStore, clock: FakeClock
) -> None:
    await _seed(store, clock)
    resp = await client.get(f"/admin/conversations/{CONV.upper()}", headers=auth())
    assert resp.status == 200


async def test_get_unknown_conversation_is_404(client: Client) -> None:
    resp = await client.get(f"/admin/conversations/{OTHER}", headers=auth())
    assert resp.status == 404
    assert (await resp.json())["error"] == "unknown_conversation"


@pytest.mark.parametrize(
    "bad_id",
    ["123", CONV + "0", CONV[:-1] + "g", "..%2F..%2Fetc", "%20" + CONV[1:], "-1"],
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_malformed_conversation_id_is_400(client: Client, method: str, bad_id: str) -> None:
    resp = await client.request(method, f"/admin/conversations/{bad_id}", headers=auth())
    assert resp.status == 400
    assert (await resp.json())["error"] == "bad_conversation_id"


async def test_erase_conversation(client: Client, store: SQLiteStore, clock: FakeClock) -> None:
    await _seed(store, clock)
    resp = await client.delete(f"/admin/conversations/{CONV}", headers=auth())
    assert resp.status == 200
    assert await resp.json() == {"erased": True}
    assert await store.transcript(CONV) == []
    assert await store.outbox_for(CONV) == []
    conv = await store.get_conversation(CONV)
    assert conv is not None and conv.channel_key != "+31612345678"


async def test_erase_unknown_conversation_is_404(client: Client) -> None:
    resp = await client.delete(f"/admin/conversations/{OTHER}", headers=auth())
    assert resp.status == 404


# --- dead letters ------------------------------------------------------------------


async def test_list_dead_letters(client: Client, store: SQLiteStore, clock: FakeClock) -> None:
    await _seed(store, clock)
    dead_id = await _dead_letter(store, clock)
    resp = await client.get("/admin/dead-letters", headers=auth())
    assert resp.status == 200
    (letter,) = (await resp.json())["dead_letters"]
    assert letter["id"] == dead_id
    assert letter["conversation_id"] == CONV
    assert letter["target"] == "citizen"
    assert letter["kind"] == "message"
    assert letter["reason"] == "permanent: 400 bad request"
    assert letter["attempts"] == 0
    assert letter["payload"] == {"text": "Goedemiddag"}
    assert letter["created_at"] and letter["failed_at"]


async def test_dead_letters_limit(client: Client, store: SQLiteStore, clock: FakeClock) -> None:
    await _seed(store, clock)
    await _dead_letter(store, clock)
    await _dead_letter(store, clock, Target.DESK)
    resp = await client.get("/admin/dead-letters?limit=1", headers=auth())
    assert len((await resp.json())["dead_letters"]) == 1
    resp = await client.get("/admin/dead-letters?limit=1000", headers=auth())
    assert len((await resp.json())["dead_letters"]) == 2


# "\u0661" is an Arabic-Indic digit one: str.isdigit() says yes, int() accepts it.
@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1001", "1.5", "", "\u0661"])
async def test_dead_letters_bad_limit_is_400(client: Client, limit: str) -> None:
    resp = await client.get("/admin/dead-letters", params={"limit": limit}, headers=auth())
    assert resp.status == 400
    assert (await resp.json())["error"] == "bad_limit"


async def test_replay_dead_letter(
    client: Client, view: FakeView, store: SQLiteStore, clock: FakeClock
) -> None:
    await _seed(store, clock)
    dead_id = await _dead_letter(store, clock)
    before = len(await store.outbox_for(CONV))
    resp = await client.post(f"/admin/dead-letters/{dead_id}/replay", headers=auth())
    assert resp.status == 200
    assert await resp.json() == {"replayed": True}
    assert view.wakes == 1
    assert await store.dead_letters() == []
    assert len(await store.outbox_for(CONV)) == before + 1


async def test_replay_unknown_dead_letter_is_404(client: Client, view: FakeView) -> None:
    resp = await client.post("/admin/dead-letters/999/replay", headers=auth())
    assert resp.status == 404
    assert (await resp.json())["error"] == "unknown_dead_letter"
    assert view.wakes == 0


@pytest.mark.parametrize("bad_id", ["abc", "-1", "1.0", "1" * 19, "0x10", "%C2%B2"])
async def test_replay_malformed_id_is_400(client: Client, bad_id: str) -> None:
    resp = await client.post(f"/admin/dead-letters/{bad_id}/replay", headers=auth())
    assert resp.status == 400
    assert (await resp.json())["error"] == "bad_dead_letter_id"


async def test_admin_store_outage_is_503(client: Client, store: SQLiteStore) -> None:
    await store.close()
    resp = await client.get(f"/admin/conversations/{CONV}", headers=auth())
    assert resp.status == 503
    assert (await resp.json())["error"] == "store_unavailable"


async def test_admin_refused_while_draining(client: Client, view: FakeView) -> None:
    view.draining = True
    resp = await client.get("/admin/dead-letters", headers=auth())
    assert resp.status == 503
    assert (await resp.json())["error"] == "draining"
