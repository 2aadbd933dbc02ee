"""One call whose requests alternate between two daemon instances on one store, as a
load balancer without affinity sends them: every answer in its own turn, nothing said
twice, the transfer once, and no turn waits for the budget because the answer was
produced on the other instance."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from yarl import URL

from handover.daemon.app import Daemon
from handover.sdk.testing import MemoryBot
from tests.adapters.voiceai.conftest import BOT_TOKEN, BUDGET, scripted_bot, voice_config
from tests.fakes.voiceai_gateway import FakeCall, FakeGateway
from tests.harness import TENANT, make_config

GREETING = "Welkom bij de gemeente. Waarmee kan ik u helpen?"


@contextlib.asynccontextmanager
async def two_instances(tmp: Path) -> AsyncIterator[list[TestServer]]:
    config = make_config(tmp, voice_config())
    servers = []
    try:
        for _ in range(2):
            daemon = Daemon(config)
            server = TestServer(daemon.build_app())
            await server.start_server()
            servers.append(server)
            cast(MemoryBot, daemon.adapters["bot"]).responder = scripted_bot
        yield servers
    finally:
        for server in servers:
            await server.close()


def on(call: FakeCall, server: TestServer) -> FakeCall:
    """The call's next requests go to `server` (same paths, another instance)."""
    for key, url in call.urls.items():
        call.urls[key] = URL(str(server.make_url(url.path)))
    return call


async def test_a_call_alternating_between_instances_hears_each_answer_once_in_its_turn(
    tmp_path: Path,
) -> None:
    async with two_instances(tmp_path) as (a, b), aiohttp.ClientSession() as session:
        gateway = FakeGateway(session, a.make_url(f"/phone/bots/{TENANT}"), BOT_TOKEN)
        call = await gateway.call()
        answers = [await on(call, b).start()]
        turns = ["menu", "/afval", "Hoe laat is het stadhuis open?", "twee berichten"]
        for n, said in enumerate(turns):
            answers.append(await on(call, (a, b)[n % 2]).say(said))
        assert answers[0].texts == [GREETING]
        assert "1. Afval" in answers[1].texts[0]
        assert answers[2].texts == ["De container wordt dinsdag geleegd."]
        assert answers[3].texts == ["U zei: Hoe laat is het stadhuis open?"]
        assert answers[4].texts == ["Eerste deel.", "Tweede deel."]
        # In its own turn, and well within the budget (not woken at its end).
        assert all(answer.seconds < BUDGET / 2 for answer in answers), [
            round(answer.seconds, 2) for answer in answers]
        # A silence on the other instance repeats the last thing, once.
        again = await on(call, a).silence()
        assert again.texts == ["Eerste deel.", "Tweede deel."][-1:]

        transfer = await on(call, b).say("medewerker")
        assert transfer.event("transfer") is not None
        # The next request, on the other instance, does not transfer again.
        later = await on(call, a).silence()
        assert later.event("transfer") is None
        status = await on(call, b).transfer_status("answered")
        assert status.status == 200 and status.event("transfer") is None


@pytest.mark.parametrize("retry_on", ["same", "other"])
async def test_a_retried_post_on_either_instance_gets_the_same_answer(
    tmp_path: Path, retry_on: str,
) -> None:
    async with two_instances(tmp_path) as (a, b), aiohttp.ClientSession() as session:
        gateway = FakeGateway(session, a.make_url(f"/phone/bots/{TENANT}"), BOT_TOKEN)
        call = await gateway.call()
        await on(call, a).start()
        first = await on(call, a).say("Is het stadhuis open?")
        again = await on(call, a if retry_on == "same" else b).resend()
        assert again.activities == first.activities
        nxt = await on(call, b).say("Dank u")
        assert nxt.texts == ["U zei: Dank u"]


