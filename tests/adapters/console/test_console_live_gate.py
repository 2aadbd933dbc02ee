"""The live socket admits only agents, before the upgrade: token in the subprotocol
header, Origin checked, sockets capped per address and in total; a flood of
unauthenticated attempts costs nothing that lasts and does not stall /healthz."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import aiohttp
import pytest

from adapters.console import gate
from tests.adapters.console.support import TOKENS, console_daemon, live_protocols


async def refused(c: object, **kwargs: object) -> int:
    client = c.client  # type: ignore[attr-defined]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/desk/api/live", **kwargs)
    return info.value.status


async def test_a_socket_without_a_valid_token_is_refused_before_the_upgrade(
    tmp_path: Path,
) -> None:
    async with console_daemon(tmp_path) as c:
        assert await refused(c) == 401
        assert await refused(c, protocols=("handover.console",)) == 401
        wrong = base64.urlsafe_b64encode(b"not-a-token-of-anyone").decode()
        assert await refused(c, protocols=("handover.console", f"auth.{wrong}")) == 403
        assert await refused(c, protocols=("handover.console", "auth.%%%")) == 403
        # Never from the URL (proxies log it).
        assert await refused(c, params={"token": TOKENS["sanne"]}) == 401

        ws = await c.client.ws_connect("/desk/api/live", protocols=live_protocols("sanne"))
        # The token is not echoed: the server chose the plain protocol.
        assert ws.protocol == "handover.console"
        assert (await ws.receive_json(timeout=5))["type"] == "ready"
        await ws.close()


async def test_a_foreign_origin_is_refused(tmp_path: Path) -> None:
    origin = "https://kcc.gemeente.example"
    async with console_daemon(tmp_path, origins=[origin]) as c:
        protocols = live_protocols("sanne")
        assert await refused(c, protocols=protocols,
                             headers={"Origin": "https://evil.example"}) == 403
        host = f"http://{c.client.host}:{c.client.port}"
        for allowed in (host, origin):
            ws = await c.client.ws_connect("/desk/api/live", protocols=protocols,
                                           headers={"Origin": allowed})
            assert (await ws.receive_json(timeout=5))["type"] == "ready"
            await ws.close()


async def test_sockets_are_capped_per_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gate, "MAX_PER_ADDRESS", 2)
    async with console_daemon(tmp_path) as c:
        first = [await c.live("sanne"), await c.live("ahmed")]
        assert await refused(c, protocols=live_protocols("sanne")) == 429
        await first[0].ws.close()
        await asyncio.sleep(0.1)
        again = await c.live("sanne")  # a closed socket frees its place
        await again.ws.close()
        await first[1].ws.close()


async def test_a_flood_of_unauthenticated_sockets_leaves_nothing_and_healthz_answers(
    tmp_path: Path,
) -> None:
    async with console_daemon(tmp_path) as c:
        hub = c.desk.api.hub
        statuses: list[int] = []

        async def attempt() -> None:
            statuses.append(await refused(c))

        async def healthz() -> float:
            loop = asyncio.get_running_loop()
            started = loop.time()
            resp = await c.client.get("/healthz")
            assert resp.status == 200
            return loop.time() - started

        results = await asyncio.gather(*(attempt() for _ in range(50)), healthz())
        assert statuses == [401] * 50
        assert results[-1] < 1.0, results[-1]
        # Nothing was upgraded, so nothing is held for them.
        assert hub.online("test") == 0 and not hub.gate.open
        # No page writer was started (the HTTP keep-alive tasks of the client's pool are
        # not the console's).
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("desk.live")]
