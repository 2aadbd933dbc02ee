"""A channel that declares the `transfer` capability but cannot perform it: the default
`ChannelAdapter.transfer` refuses for good, and the caller is sent back to the bot with
an apology instead of waiting in a transfer that never happens."""

from __future__ import annotations

from pathlib import Path

from handover.model import Party, State
from handover.sdk.contracts import ChannelCapabilities
from tests.harness import TENANT, running


async def test_a_transfer_the_channel_cannot_make_returns_to_the_bot(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        r.chat.capabilities = ChannelCapabilities(transfer=True, spoken=True)
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "/handover")
        await r.chat.wait_for(conv.id, lambda m: any("doorverbinden" in x.content.text for x in m))
        await r.settle()
        after = await r.daemon.store.get_conversation(conv.id)
        assert after is not None and after.state is State.BOT
        said = [m.content.text for m in r.chat.shown[conv.id] if m.party is Party.SYSTEM]
        assert any("verbind u door met een medewerker" in t for t in said)
        assert any(t.startswith("Sorry, doorverbinden is niet gelukt") for t in said)
        assert r.desk.threads == {}  # never a desk thread on a transfer channel
        dead = await r.daemon.store.dead_letters()
        assert [d.kind for d in dead] == ["citizen.transfer"]
