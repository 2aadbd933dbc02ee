"""Citizens who closed the page while it was hidden: the grace period, kept durably.

When the last socket of a conversation closes while its page said it was hidden, the
citizen has probably closed the tab; unless a widget of the conversation comes back
within `leave_grace_seconds`, somebody waiting for them (the desk's queue, an agent)
is told they left. Decided on the server, because a closing tab cannot be relied on to
say goodbye (no timers run after `pagehide`, a beacon may be dropped) while a socket
that closes is always seen.

The departure is a record in the channel's adapter state (`away:<conversation id>`,
shared by every instance on the store), not a timer in one process:

- the instance that saw the socket close writes it and times it locally (on time);
- every instance sweeps the records now and then: one whose instance died (SIGKILL,
  a restart) is settled by another, a little after its due time;
- a widget of the conversation that says `hello` on any instance deletes it, and a
  sweep deletes the record of a conversation still open in a tab on its instance.

Settling is idempotent: the CitizenLeft it ingests has a source id made of the
record's own id, so two instances settling one departure store it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from handover.sdk import events as ev
from handover.sdk.contracts import AdapterContext
from handover.sdk.http import Unavailable, ingest_if_known
from handover.sdk.model import State

#: States in which somebody waits for the citizen: leaving then ends the desk's thread.
PERSON_WAITS = frozenset({State.HANDOVER_PENDING, State.QUEUED, State.AGENT})
_AWAY = "away:"
#: A departure record outlives its due time this long, so a sweep after a long outage
#: of every instance still settles it; later it is stale and expires unsettled.
KEEP_AFTER_DUE_SECONDS = 3600.0
#: The sweep's cadence: at most this long, and at most half the grace period, so a
#: tab still open on another instance clears the record before it is due.
MAX_SWEEP_SECONDS = 30.0
MIN_SWEEP_SECONDS = 0.1
#: Departures settled per sweep (the rest wait for the next one).
MAX_PER_SWEEP = 500


def _key(conversation_id: str) -> str:
    return f"{_AWAY}{conversation_id}"


class Departures:
    """The grace period of citizens whose hidden page closed, on every instance.

    `holds(conversation_id)` says whether a socket of the conversation is open on this
    instance (the channel's registry).
    """

    def __init__(self, ctx: AdapterContext, channel: str, grace_seconds: float,
                 holds: Callable[[str], bool]) -> None:
        self.ctx = ctx
        self.channel = channel
        self.grace = grace_seconds
        self._holds = holds
        #: Departures the store did not take (it failed): timed in memory only.
        self._unrecorded: dict[str, str] = {}

    @property
    def sweep_seconds(self) -> float:
        return max(MIN_SWEEP_SECONDS, min(self.grace / 2, MAX_SWEEP_SECONDS))

    async def left_hidden(self, conversation_id: str) -> None:
        """The last socket of the conversation here closed while its page was hidden."""
        if self.grace <= 0:
            return
        departure = uuid.uuid4().hex
        due = self.ctx.clock.now().timestamp() + self.grace
        try:
            await self.ctx.state.put(
                _key(conversation_id), {"due": due, "id": departure},
                ttl_seconds=self.grace + KEEP_AFTER_DUE_SECONDS,
                conversation_id=conversation_id,
            )
        except Exception:
            # Timed here only: if this instance dies too, the citizen is not told apart
            # from one who stayed (the desk's own timeouts still end the thread).
            self.ctx.log.warning("web.departure_not_recorded", conversation_id=conversation_id,
                                 exc_info=True)
            self._unrecorded[conversation_id] = departure
        self.ctx.spawn(self._at_due(conversation_id, departure),
                       name=f"web.grace:{conversation_id}")

    async def returned(self, conversation_id: str) -> None:
        """A widget of the conversation said `hello` here: it did not leave."""
        self._unrecorded.pop(conversation_id, None)
        try:
            # Read first: most widgets that resume were never away, and a read costs
            # the store less than a write. A departure written just after this read
            # (another tab closing) is deleted by the sweep here (`holds`).
            record = await self.ctx.state.get(_key(conversation_id))
            if record is not None:
                await self.ctx.state.delete(_key(conversation_id), expect_version=record.version)
        except Exception:
            # The sweep here deletes it while the socket is open (`holds`).
            self.ctx.log.warning("web.departure_not_cleared", conversation_id=conversation_id,
                                 exc_info=True)

    async def run(self) -> None:
        """Sweep the departures of every instance until cancelled; the first sweep at
        once, for departures an instance that died (perhaps this one) left behind."""
        if self.grace <= 0:
            return
        while True:
            try:
                await self.sweep()
            except Exception:
                self.ctx.log.warning("web.departure_sweep_failed", exc_info=True)
            await self.ctx.clock.sleep(self.sweep_seconds)

    async def sweep(self) -> None:
        now = self.ctx.clock.now().timestamp()
        for key, record in await self.ctx.state.scan(_AWAY, limit=MAX_PER_SWEEP):
            conversation_id = key[len(_AWAY):]
            if self._holds(conversation_id):
                # Still open in a tab here: the citizen has not left.
                await self.ctx.state.delete(key, expect_version=record.version)
            elif float(record.value.get("due", 0)) <= now:
                await self._settle(conversation_id, str(record.value.get("id", "")),
                                   record.version)

    async def _at_due(self, conversation_id: str, departure: str) -> None:
        await self.ctx.clock.sleep(self.grace)
        if self._unrecorded.get(conversation_id) == departure:
            del self._unrecorded[conversation_id]
            if not self._holds(conversation_id):
                await self._leave(conversation_id, departure)
            return
        record = await self.ctx.state.get(_key(conversation_id))
        if record is None or record.value.get("id") != departure:
            return  # back (here or elsewhere), settled elsewhere, or left again later
        if self._holds(conversation_id):
            await self.ctx.state.delete(_key(conversation_id), expect_version=record.version)
            return
        await self._settle(conversation_id, departure, record.version)

    async def _settle(self, conversation_id: str, departure: str, version: int) -> None:
        # Ingest first, then delete: an instance dying in between leaves the record for
        # another, whose ingest of the same departure is a duplicate. Not stored (the
        # store failed): the record stays for the next sweep.
        if await self._leave(conversation_id, departure):
            await self.ctx.state.delete(_key(conversation_id), expect_version=version)

    async def _leave(self, conversation_id: str, departure: str) -> bool:
        """Tell whoever waits for the citizen that they left; False when it could not
        be stored (try again later)."""
        conv = await self.ctx.get_conversation(conversation_id)
        if conv is None or conv.state not in PERSON_WAITS:
            return True  # nobody waits (any more): nothing to say
        self.ctx.log.info("web.citizen_gone", conversation_id=conversation_id)
        event = ev.CitizenLeft(conversation_id=conversation_id, source=self.channel,
                               source_id=f"gone:{conversation_id}:{departure}")
        try:
            await ingest_if_known(self.ctx, event, log_event="web.ingest_failed")
        except Unavailable:
            return False
        return True
