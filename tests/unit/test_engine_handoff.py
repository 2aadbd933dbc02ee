"""Items handed to the worker in memory: order, failures and the claim path behind them.

A step leases the items it makes when their queue is empty and the router hands them to
the worker without a claim. These tests pin what that must not change: several items
of one queue arrive in order, a failed item holds back the ones behind it until its
retry (then they go through the claim path, still in order), and draining gives every
lease back.
"""

from __future__ import annotations

from pathlib import Path

from handover.model import Content
from handover.sdk.contracts import BotResponse, BotTurn
from handover.sdk.errors import TransientError
from handover.sdk.model import Conversation
from tests.harness import TENANT, running
from tests.unit.test_engine_transactions import transactions


def three_answers(_conversation: Conversation, turn: BotTurn) -> BotResponse:
    return BotResponse(tuple(Content(text=f"{turn.text} {n}") for n in (1, 2, 3)))


async def test_a_bot_reply_of_several_messages_arrives_in_order_without_a_claim(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, {"delivery": {"poll_seconds": 30.0}}) as r:
        r.bot.responder = three_answers
        conv = await r.chat.open(TENANT)
        before = transactions()
        await r.chat.say(conv.id, "hallo")
        await r.chat.wait_for(conv.id, lambda shown: len(shown) == 3)
        await r.settle()
        spent = transactions()
        spent.subtract(before)
        assert r.chat.texts(conv.id) == ["hallo 1", "hallo 2", "hallo 3"]
        assert spent["claim"] == 0 and spent["complete"] == 0, dict(spent)


async def test_a_failed_item_holds_back_the_ones_behind_it_until_its_retry(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as r:
        r.bot.responder = three_answers
        conv = await r.chat.open(TENANT)
        r.chat.faults.fail_next(TransientError("socket gone"))
        await r.chat.say(conv.id, "hallo")
        await r.chat.wait_for(conv.id, lambda shown: len(shown) == 3)
        await r.settle()
        assert r.chat.texts(conv.id) == ["hallo 1", "hallo 2", "hallo 3"]
        assert r.chat.duplicates_dropped == 0


async def test_drain_gives_back_the_leases_of_items_not_yet_sent(tmp_path: Path) -> None:
    async with running(tmp_path) as r:
        conv = await r.chat.open(TENANT)
        await r.chat.say(conv.id, "hallo")
        await r.chat.wait_for(conv.id, lambda shown: len(shown) == 1)
        await r.settle()
        worker = r.daemon.worker
        await worker.drain(timeout=1.0)
        # Made after the worker stopped: not leased to it, left for the claim path.
        await r.chat.say(conv.id, "nog een vraag")
        pending = await r.daemon.store.outbox_for(conv.id)
        assert pending and all(not row.in_flight for row in pending)
        claimed = await r.daemon.store.claim(
            "another", r.daemon.clock.now(), 30, 10)
        assert [row.kind for row in claimed] == ["bot.turn"]
