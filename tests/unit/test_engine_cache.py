"""The router reads conversations through a cache of what it committed last.

Another writer (a second instance on PostgreSQL, an erasure) may have changed a
conversation since: a step computed from the old copy fails its version check and is
decided again, and an event the old copy would drop is decided again from the store.
"""

from __future__ import annotations

from pathlib import Path

from handover.model import State
from handover.sdk.contracts import IngestOutcome
from handover.store import CommitResult, Step
from tests.harness import TENANT, running


async def test_an_event_is_not_dropped_for_what_an_old_cached_copy_says(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "hallo")
        await r.chat.wait_for(conv.id, lambda shown: len(shown) == 1)
        await r.settle()
        # Another instance hands the conversation to an agent: this router's copy
        # still says the bot holds it.
        stored = await r.daemon.store.get_conversation(conv.id)
        assert stored is not None and stored.state is State.BOT
        elsewhere = stored.evolve(
            state=State.AGENT, epoch=stored.epoch + 1, handover_no=1, agent_name="Sanne"
        )
        assert await r.daemon.store.commit(Step(elsewhere)) is CommitResult.APPLIED
        result = await r.desk.reply(f"{conv.id}-1", "Goedemiddag")
        assert result.outcome is IngestOutcome.APPLIED
        await r.chat.wait_for(conv.id, lambda shown: len(shown) == 2)
        assert r.chat.texts(conv.id)[-1] == "Goedemiddag"


async def test_a_step_from_an_old_cached_copy_is_decided_again(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "een")
        await r.chat.wait_for(conv.id, lambda shown: len(shown) == 1)
        await r.settle()
        stored = await r.daemon.store.get_conversation(conv.id)
        assert stored is not None
        # Written elsewhere: a transcript entry took seq + 1.
        assert await r.daemon.store.commit(
            Step(stored.evolve(seq=stored.seq + 1))) is CommitResult.APPLIED
        result = await r.chat.say(conv.id, "twee")
        assert result.outcome is IngestOutcome.APPLIED
        after = await r.daemon.store.get_conversation(conv.id)
        assert after is not None and after.seq == stored.seq + 2
