"""What the channel remembers about a live call, and how it answers within the budget.

In HTTP mode the gateway hears the bot only in the response to its own POST, while the
core works asynchronously (ingest -> durable step -> outbox -> `deliver`). So after
ingesting the caller's turn, `Answerer.collect` waits, at most until the time budget
runs out, for what the core says to this conversation, and returns it. The transcript
in the store is the source of truth for what was said: the waiter reads the transcript
after the call's *cursor* (the last seq spoken). What comes after the budget stays in
the transcript and is spoken on the next activity (a turn or the `noUserInput` event
the gateway sends after a silence); the caller meanwhile hears a short filler.

The call's record (cursor, silences, the transfer sent, the last request's answer for
a retried POST) is adapter state in the daemon's store, so each request of a call may
reach another daemon instance and the call goes on where it was: nothing spoken twice,
nothing a turn late, the transfer once. The core's delivery of an answer may run on
another instance than the one holding the gateway's request, so the waiter does not
rely on `deliver` waking it: it also looks at the transcript again every few tens of
milliseconds (backing off to `POLL_MAX_SECONDS`), and a turn's latency does not depend
on how many instances run.
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

#: Local locks and wake-ups kept at most (the oldest idle ones are forgotten first;
#: the call itself is in the store).
MAX_CALLS = 10_000
#: How long a call's record outlives its last request (a call is over long before).
CALL_RECORD_TTL = 86400.0
#: The first and the longest pause between two looks at the transcript while waiting.
POLL_MIN_SECONDS = 0.02
POLL_MAX_SECONDS = 0.2


@dataclass(slots=True)
class Call:
    """One live call's record, as read from the store at the start of a request and
    written back at its end (`version` is the store's, for the compare-and-set)."""

    #: The highest transcript seq already answered to the gateway; None = unknown.
    cursor: int | None = None
    #: noUserInput events in a row.
    silences: int = 0
    #: The handover whose transfer activity was sent.
    transferred: int = 0
    hung_up: bool = False
    #: The number the caller calls from (E.164), from the `start` event; None when it
    #: was withheld or is not a number to call. Kept out of the `repr` (and so out of
    #: logs); goes with each caller turn into the conversation's context.
    caller: str | None = field(default=None, repr=False)
    #: The last request's activity ids and its answer, for a retried POST.
    last_ids: tuple[str, ...] = ()
    last_answer: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0

    def value(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "silences": self.silences,
                "transferred": self.transferred, "hung_up": self.hung_up,
                "caller": self.caller,
                "last_ids": list(self.last_ids), "last_answer": self.last_answer}

    @classmethod
    def of(cls, value: dict[str, Any], version: int) -> Call:
        cursor = value.get("cursor")
        return cls(
            cursor=cursor if isinstance(cursor, int) else None,
            silences=int(value.get("silences", 0)),
            transferred=int(value.get("transferred", 0)),
            hung_up=bool(value.get("hung_up", False)),
            caller=caller if isinstance(caller := value.get("caller"), str) else None,
            last_ids=tuple(str(i) for i in value.get("last_ids", ())),
            last_answer=list(value.get("last_answer", [])),
            version=version,
        )


@dataclass(slots=True)
class _Local:
    """What only this process has of a call: the lock that serialises the gateway's
    requests reaching this instance, and the wake-up `deliver` sets."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class Calls:
    """The calls: records in the adapter's state, local locks in a bounded LRU map."""

    def __init__(self, ctx: AdapterContext) -> None:
        self.ctx = ctx
        self._local: OrderedDict[str, _Local] = OrderedDict()

    def local(self, conversation_id: str) -> _Local:
        found = self._local.get(conversation_id)
        if found is None:
            found = self._local[conversation_id] = _Local()
            while len(self._local) > MAX_CALLS:
                self._local.popitem(last=False)
        else:
            self._local.move_to_end(conversation_id)
        return found

    async def load(self, conversation_id: str) -> Call:
        record = await self.ctx.state.get(f"call:{conversation_id}")
        return Call() if record is None else Call.of(record.value, record.version)

    async def save(self, conversation_id: str, call: Call) -> None:
        """Write the call back. Requests of one call come one at a time from the
        gateway; if another instance wrote meanwhile (a retried POST raced its
        original), the later write wins: both answered from the same transcript."""
        version = await self.ctx.state.put(
            f"call:{conversation_id}", call.value(), ttl_seconds=CALL_RECORD_TTL,
            conversation_id=conversation_id)
        call.version = version or call.version

    def wake(self, conversation_id: str) -> None:
        local = self._local.get(conversation_id)
        if local is not None:
            local.changed.set()

    async def forget(self, conversation_id: str) -> None:
        self._local.pop(conversation_id, None)
        with contextlib.suppress(Exception):
            await self.ctx.state.delete(f"call:{conversation_id}")

    def __len__(self) -> int:
        return len(self._local)


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
        self, call: Call, changed: asyncio.Event, conversation_id: str, *,
        expect_reply: bool, deadline: float,
    ) -> list[dict[str, Any]]:
        """Wait (until `deadline`, loop time) for the answer when one is expected, then
        return everything said after the cursor, and a transfer or hang-up if due.
        `changed` is set by this instance's `deliver`; the transcript is looked at
        again at short intervals too, for a delivery another instance ran."""
        loop = asyncio.get_running_loop()
        settled_at: float | None = None
        poll = POLL_MIN_SECONDS
        while True:
            changed.clear()
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
                await asyncio.wait_for(changed.wait(), min(remaining, poll))
            poll = min(poll * 2, POLL_MAX_SECONDS)
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
        expires = self.ctx.clock.now().timestamp() + self.options.reference_ttl_seconds
        ref = make_reference(self.options.reference_secret, conv.id, conv.handover_no, expires)
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
