"""What the channel remembers about a live call, and how it answers within the budget.

In HTTP mode the gateway hears the bot only in the response to its own POST, while the
core works asynchronously (ingest -> durable step -> outbox -> `deliver`). So after
ingesting the caller's turn, `Answerer.collect` waits, at most until the time budget
runs out, for what the core says to this conversation, and returns it. The transcript
in the store is the source of truth for what was said: `deliver` only wakes the waiter,
which reads the transcript after the call's *cursor* (the last seq spoken). What comes
after the budget stays in the transcript and is spoken on the next activity (a turn or
the `noUserInput` event the gateway sends after a silence); the caller meanwhile hears a
short filler.

The cursor lives in memory. After a restart it is recovered as the caller's last turn:
what the daemon said after it is spoken (again, perhaps), never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from adapters.voiceai import wire
from adapters.voiceai.options import VoiceOptions
from adapters.voiceai.reference import make_reference
from adapters.voiceai.speech import has_options
from handover.sdk.contracts import AdapterContext
from handover.sdk.model import Conversation, Party, State, TranscriptEntry

#: Calls remembered at most (the oldest idle ones are forgotten first; a forgotten call
#: recovers its cursor from the transcript).
MAX_CALLS = 10_000


@dataclass(slots=True)
class Call:
    """One live call. `lock` serialises the gateway's requests for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    #: The highest transcript seq already answered to the gateway; None = unknown.
    cursor: int | None = None
    #: noUserInput events in a row.
    silences: int = 0
    #: The handover whose transfer activity was sent.
    transferred: int = 0
    hung_up: bool = False
    #: The last request's activity ids and its answer, for a retried POST.
    last_ids: tuple[str, ...] = ()
    last_answer: list[dict[str, Any]] = field(default_factory=list)


class Calls:
    """The live calls by conversation id (a bounded LRU map)."""

    def __init__(self) -> None:
        self._calls: OrderedDict[str, Call] = OrderedDict()

    def get(self, conversation_id: str) -> Call:
        call = self._calls.get(conversation_id)
        if call is None:
            call = self._calls[conversation_id] = Call()
            while len(self._calls) > MAX_CALLS:
                self._calls.popitem(last=False)
        else:
            self._calls.move_to_end(conversation_id)
        return call

    def wake(self, conversation_id: str) -> None:
        call = self._calls.get(conversation_id)
        if call is not None:
            call.changed.set()

    def forget(self, conversation_id: str) -> None:
        self._calls.pop(conversation_id, None)

    def __len__(self) -> int:
        return len(self._calls)


class Answerer:
    """Builds the gateway's answer from what the core said to the conversation."""

    def __init__(self, ctx: AdapterContext, options: VoiceOptions) -> None:
        self.ctx = ctx
        self.options = options

    async def recover_cursor(self, call: Call, conversation_id: str) -> None:
        if call.cursor is not None:
            return
        entries = await self.ctx.transcript_tail(conversation_id, 1000)
        citizen = [e.seq for e in entries if e.party is Party.CITIZEN]
        call.cursor = max(citizen, default=0)

    async def collect(
        self, call: Call, conversation_id: str, *, expect_reply: bool, deadline: float
    ) -> list[dict[str, Any]]:
        """Wait (until `deadline`, loop time) for the answer when one is expected, then
        return everything said after the cursor, and a transfer or hang-up if due."""
        loop = asyncio.get_running_loop()
        settled_at: float | None = None
        while True:
            call.changed.clear()
            conv, entries = await self._read(call, conversation_id)
            said = any(e.party is not Party.CITIZEN and e.content.text.strip() for e in entries)
            ready = said or conv.state in (State.TRANSFER, State.CLOSED)
            if not expect_reply or (ready and settled_at is not None and
                                    loop.time() >= settled_at):
                break
            if ready and settled_at is None:
                # The first part of the answer is here; more of the same step may follow
                # (a bot answer in several messages is delivered one by one).
                settled_at = min(loop.time() + self.options.settle_seconds, deadline)
            wait_until = settled_at if settled_at is not None else deadline
            remaining = wait_until - loop.time()
            if remaining <= 0:
                if ready:
                    break
                return [wire.message(self.ctx.clock.now(), self._filler(conv))]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.changed.wait(), remaining)
        return self._answer(call, conv, entries)

    async def _read(
        self, call: Call, conversation_id: str
    ) -> tuple[Conversation, list[TranscriptEntry]]:
        conv = await self.ctx.get_conversation(conversation_id)
        if conv is None:
            raise LookupError(conversation_id)
        entries = await self.ctx.transcript(conversation_id, after_seq=call.cursor or 0)
        return conv, entries

    def _filler(self, conv: Conversation) -> str:
        return self.options.text(self.options.filler, conv.language)

    def _answer(
        self, call: Call, conv: Conversation, entries: list[TranscriptEntry]
    ) -> list[dict[str, Any]]:
        now = self.ctx.clock.now()
        out = []
        for entry in entries:
            call.cursor = max(call.cursor or 0, entry.seq)
            text = entry.content.text.strip()
            if entry.party is Party.CITIZEN or not text:
                continue
            if has_options(text):
                text = f"{text}\n{self.options.text(self.options.choice_hint, conv.language)}"
            out.append(wire.message(now, text))
        if conv.state is State.TRANSFER and call.transferred != conv.handover_no:
            call.transferred = conv.handover_no
            out.append(self.transfer_activity(conv))
        elif conv.state is State.CLOSED and not call.hung_up and (
            conv.context.get("outcome") != "transferred"
        ):
            # The conversation ended while the caller is on the line (a goodbye after a
            # failed transfer, too many silences): end the call once it is said.
            call.hung_up = True
            out.append(wire.hangup(now, "conversation ended"))
        return out

    def transfer_activity(self, conv: Conversation) -> dict[str, Any]:
        ref = make_reference(self.options.reference_secret, conv.id, conv.handover_no)
        target = self.options.transfer_targets[conv.tenant]
        return wire.transfer(self.ctx.clock.now(), target, [(self.options.reference_header, ref)])

    async def repeat_last(self, conversation_id: str, language: str) -> list[dict[str, Any]]:
        """After a silence with nothing new to say: say the last thing again."""
        entries = await self.ctx.transcript_tail(conversation_id, 1000)
        for entry in reversed(entries):
            if entry.party is not Party.CITIZEN and entry.content.text.strip():
                text = entry.content.text.strip()
                if has_options(text):
                    text = f"{text}\n{self.options.text(self.options.choice_hint, language)}"
                return [wire.message(self.ctx.clock.now(), text)]
        return []
