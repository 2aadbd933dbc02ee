"""A bounded flood on loopback against the real daemon: opening conversations is
limited per address, and the storage guard refuses new ones cleanly while the
conversations already there go on."""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.daemon_process import CONFIG, DaemonProcess

pytestmark = pytest.mark.slow

GUARDED = CONFIG.replace('path = "{data}/handover.db"',
                         'path = "{data}/handover.db"\nmax_conversations = 3')


async def test_a_flood_is_limited_per_address_and_the_storage_guard_refuses_cleanly(
    tmp_path: Path,
) -> None:
    d = DaemonProcess(tmp_path / "data", template=GUARDED)
    await d.start()
    try:
        async with aiohttp.ClientSession() as http:
            opened: list[tuple[str, str]] = []
            refused = []
            for _ in range(40):
                async with http.post(f"{d.url}/rest/conversations",
                                     json={"tenant": "demo"}) as resp:
                    assert "Server" not in resp.headers  # no software banner
                    if resp.status == 201:
                        data = await resp.json()
                        opened.append((data["conversation_id"], data["token"]))
                    else:
                        assert resp.status == 429, await resp.text()
                        assert int(resp.headers["Retry-After"]) >= 1
                        refused.append(resp.status)
            # The default: 20 opens per address per minute.
            assert len(opened) == 20 and len(refused) == 20
            # text/plain (a cross-site form post) is refused before anything else.
            async with http.post(f"{d.url}/rest/conversations", data='{"tenant": "demo"}',
                                 headers={"Content-Type": "text/plain"}) as resp:
                assert resp.status == 415

            async def say(cid: str, token: str) -> aiohttp.ClientResponse:
                async with http.post(
                    f"{d.url}/rest/conversations/{cid}/messages",
                    json={"message_id": uuid.uuid4().hex, "text": "hallo"},
                    headers={"Authorization": f"Bearer {token}"},
                ) as resp:
                    await resp.read()
                    return resp

            statuses = [(await say(cid, token)).status for cid, token in opened[:5]]
            # Three stored (the ceiling), the rest refused with a clear 503.
            assert statuses == [202, 202, 202, 503, 503]
            refusal = await say(*opened[4])
            assert refusal.status == 503 and refusal.headers["Retry-After"] == "60"
            # Existing conversations keep working, and the daemon stays ready.
            assert (await say(*opened[0])).status == 202
            async with http.get(f"{d.url}/readyz") as resp:
                assert resp.status == 200
            async with http.get(f"{d.url}/metrics") as resp:
                assert "handover_storage_guard_refusing 1.0" in await resp.text()
    finally:
        d.terminate()
    assert "daemon.storage_guard_refusing" in d.log.read_text()
