"""The client's address behind trusted proxies (handover/http/forwarded.py)."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from handover.config.load import ConfigIssues, parse_config
from handover.http.forwarded import client_address, forwarded_middleware, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # Direct clients keep their address, whatever header they send.
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),
        # Through one proxy: the address the proxy saw.
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        # A client that forges the header only adds entries on the left.
        ("10.0.0.5", ["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
        # Two proxies of ours in a row.
        ("10.0.0.5", ["198.51.100.1, 10.1.1.1"], "198.51.100.1"),
        ("10.0.0.5", ["198.51.100.1", "10.1.1.1"], "198.51.100.1"),
        ("fd00::1", ["2001:db8::9"], "2001:db8::9"),
        # No header, a garbled one, or only proxies: the best address we know.
        ("10.0.0.5", [], "10.0.0.5"),
        ("10.0.0.5", ["unknown"], "10.0.0.5"),
        ("10.0.0.5", ["10.2.2.2, 10.1.1.1"], "10.2.2.2"),
    ],
)
def test_the_client_address_is_the_rightmost_untrusted_hop(
    peer: str, headers: list[str], expected: str
) -> None:
    assert client_address(peer, headers, PROXIES) == expected


def test_a_bad_network_is_a_config_error_with_its_path(tmp_path: Path) -> None:
    doc = {
        "server": {"trusted_proxies": ["10.0.0.0/8", "not-an-address"]},
        "adapters": {"chat": {"type": "memory_channel"}, "bot": {"type": "memory_bot"},
                     "desk": {"type": "memory_desk"}},
        "tenants": {"t": {"name": "T", "channels": ["chat"], "bot": "bot", "desk": "desk",
                          "handover": {"phone": "14 012"}}},
    }
    with pytest.raises(ConfigIssues) as caught:
        parse_config(doc, base_dir=tmp_path, env=os.environ)
    assert "server.trusted_proxies: 'not-an-address' is not an IP address or network" in str(
        caught.value
    )


async def test_handlers_and_sub_applications_see_the_client_address() -> None:
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.remote)
        return web.Response(text="ok")

    app = web.Application(middlewares=[forwarded_middleware(parse_networks(["127.0.0.1"]))])
    sub = web.Application()
    sub.router.add_get("/x", handler)
    app.add_subapp("/web/", sub)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            for forwarded in ("198.51.100.1", "1.2.3.4, 198.51.100.2"):
                async with http.get(f"http://127.0.0.1:{port}/web/x",
                                    headers={"X-Forwarded-For": forwarded}) as resp:
                    assert resp.status == 200
            async with http.get(f"http://127.0.0.1:{port}/web/x") as resp:
                assert resp.status == 200
    finally:
        await runner.cleanup()
    assert seen == ["198.51.100.1", "198.51.100.2", "127.0.0.1"]
