"""What the channel sent and what Meta reported about it, in the daemon's shared store.

The Graph API has no idempotency key, so a send whose answer was lost (timeout,
dropped connection, a crash mid-request) may or may not have reached the citizen.
Every part we send therefore carries its own id in `biz_opaque_callback_data`, which
Meta echoes in each status webhook. A part is recorded here *before* it goes out, the
status webhooks update it, and a retry of the part first looks here. The records are
adapter state (`ctx.state`), so a status that reaches another daemon instance than the
one that sent, or arrives after a crash, reconciles the same part.

The rule for a part whose fate is unknown (`decide`), explicit because Meta gives no
idempotency to fall back on:

- a status came (sent, delivered, read), or Meta accepted it (answered a wamid): it
  is out, never sent again;
- failed (a status or a refusal): given up; an agent's message tells the agent;
- no record, or refused without reaching Meta: sent;
- unknown (a crash or a lost answer), younger than `reconcile_seconds`: wait for a
  status (the delivery is retried later);
- unknown, no status after `reconcile_seconds`: with `unconfirmed = "tell_agent"` (the
  default) given up, never sent again, and an agent's message tells the agent; with
  `"resend"` sent again (a second copy when Meta took it but never reported it).

Status webhooks arrive in any order ("read" before "sent", a "failed" after a
"sent"); a part's status only moves forward: accepted < sent < delivered < read, and
"failed" replaces anything short of delivered.

Also kept here: when each conversation's citizen last wrote (the 24-hour window),
with a second record per hour in which a window closes, so the window watch reads
only the hours that matter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from handover.sdk.clock import Clock
from handover.sdk.state import AdapterState

SENDING, AMBIGUOUS, ACCEPTED, FAILED = "sending", "ambiguous", "accepted", "failed"
_RANK = {SENDING: 0, AMBIGUOUS: 0, ACCEPTED: 1, "sent": 2, "delivered": 3, "read": 4}
#: States that prove Meta took the message.
TAKEN = frozenset({ACCEPTED, "sent", "delivered", "read"})
STATUSES = frozenset({"sent", "delivered", "read", FAILED})

#: How long a part's record is kept: longer than Meta resends status webhooks (7
#: days) and than any message waits in the outbox.
RECORD_TTL = 8 * 86400.0
WINDOW = timedelta(hours=24)
#: Attempts of one compare-and-set update before it gives up (another instance kept
#: winning: the error makes the webhook or the delivery retry).
_CAS_ATTEMPTS = 8


class Decision(StrEnum):
    """What a retry of a part does (see the module docstring)."""

    SEND = "send"
    DONE = "done"
    FAILED = "failed"
    WAIT = "wait"
    UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True, slots=True)
class Part:
    part_id: str
    conversation_id: str
    party: str
    wamid: str | None
    state: str
    attempted_at: datetime


def next_state(current: str, status: str) -> str:
    """Where a status report moves a part (reports come in any order)."""
    if status == FAILED:
        return current if current in ("delivered", "read") else FAILED
    if current == FAILED:
        return current
    return status if _RANK.get(status, 0) > _RANK.get(current, 0) else current


def decide(part: Part | None, now: datetime, reconcile: timedelta) -> Decision:
    """The rule for a retry of a part, from its record alone."""
    if part is None:
        return Decision.SEND
    if part.state in TAKEN:
        return Decision.DONE
    if part.state == FAILED:
        return Decision.FAILED
    if now - part.attempted_at < reconcile:
        return Decision.WAIT
    return Decision.UNCONFIRMED


class StateConflict(Exception):
    """A record kept changing under an update (raised after several attempts)."""


def _part(key: str, value: dict[str, Any]) -> Part:
    return Part(key, str(value.get("c", "")), str(value.get("p", "")),
                value.get("w") if isinstance(value.get("w"), str) else None,
                str(value.get("s", SENDING)),
                datetime.fromtimestamp(float(value.get("t", 0)), UTC))


def _value(part: Part) -> dict[str, Any]:
    return {"c": part.conversation_id, "p": part.party, "w": part.wamid, "s": part.state,
            "t": part.attempted_at.timestamp()}


class SendLog:
    """The parts and the windows, as records of `state()` (the channel's `ctx.state`,
    read when used: the store opens after the adapter is made)."""

    def __init__(self, state: Callable[[], AdapterState], clock: Clock) -> None:
        self._state = state
        self.clock = clock

    @property
    def state(self) -> AdapterState:
        return self._state()

    async def get(self, part_id: str) -> Part | None:
        record = await self.state.get(f"part:{part_id}")
        return None if record is None else _part(part_id, record.value)

    async def _update(self, part_id: str, change: Callable[[Part | None], Part | None],
                      ) -> tuple[Part | None, Part | None]:
        """Compare-and-set `change(old) -> new` on a part (None: leave it);
        returns (old, new)."""
        key = f"part:{part_id}"
        for _ in range(_CAS_ATTEMPTS):
            record = await self.state.get(key)
            old = None if record is None else _part(part_id, record.value)
            new = change(old)
            if new is None:
                return old, None
            written = await self.state.put(
                key, _value(new), expect_version=record.version if record else 0,
                ttl_seconds=RECORD_TTL, conversation_id=new.conversation_id or None)
            if written is not None:
                return old, new
        raise StateConflict(part_id)

    async def begin(self, part_id: str, conversation_id: str, party: str,
                    now: datetime) -> None:
        """Recorded before the request goes out: a crash after it leaves a trace.
        A part already taken or failed keeps its state."""
        def change(old: Part | None) -> Part:
            state = SENDING if old is None or old.state in (SENDING, AMBIGUOUS) else old.state
            return Part(part_id, conversation_id, party, old.wamid if old else None, state, now)
        await self._update(part_id, change)

    async def accepted(self, part_id: str, wamid: str) -> None:
        def change(old: Part | None) -> Part:
            base = old or Part(part_id, "", "", None, SENDING, self.clock.now())
            return Part(part_id, base.conversation_id, base.party, wamid,
                        next_state(base.state, ACCEPTED), base.attempted_at)
        _, new = await self._update(part_id, change)
        await self._index(wamid, part_id, new.conversation_id if new else "")

    async def ambiguous(self, part_id: str) -> None:
        def change(old: Part | None) -> Part | None:
            if old is None or old.state != SENDING:
                return None
            return Part(part_id, old.conversation_id, old.party, old.wamid, AMBIGUOUS,
                        old.attempted_at)
        await self._update(part_id, change)

    async def forget(self, part_id: str) -> None:
        """The send surely did not go out: the next attempt need not wait."""
        record = await self.state.get(f"part:{part_id}")
        if record is not None and record.value.get("s") == SENDING:
            await self.state.delete(f"part:{part_id}", expect_version=record.version)

    async def _index(self, wamid: str, part_id: str, conversation_id: str) -> None:
        await self.state.put(f"wamid:{wamid}", {"part": part_id}, ttl_seconds=RECORD_TTL,
                             conversation_id=conversation_id or None)

    async def report(self, part_id: str | None, wamid: str, status: str) -> tuple[Part, bool]:
        """Apply a status webhook; returns the part and whether its state changed.

        A status for a part with no record yet (its sender has not written it, or the
        status carries no callback data) is kept under the part's id or its wamid, so
        a later retry still finds it."""
        if not part_id:
            found = await self.state.get(f"wamid:{wamid}")
            part_id = str(found.value.get("part")) if found else f"wamid:{wamid}"

        def change(old: Part | None) -> Part | None:
            if old is None:
                return Part(part_id or "", "", "", wamid, next_state(SENDING, status),
                            datetime.fromtimestamp(0, UTC))
            state = next_state(old.state, status)
            if state == old.state and old.wamid:
                return None
            return Part(old.part_id, old.conversation_id, old.party, old.wamid or wamid,
                        state, old.attempted_at)

        old, new = await self._update(part_id, change)
        if new is None:
            assert old is not None
            return old, False
        if old is None or not old.wamid:
            await self._index(wamid, part_id, new.conversation_id)
        return new, old is None or new.state != old.state

    # --- the 24-hour window -------------------------------------------------------------

    async def inbound(self, conversation_id: str, at: datetime) -> None:
        """The citizen wrote at `at`: their window runs until a day later."""
        key = f"window:{conversation_id}"
        for _ in range(_CAS_ATTEMPTS):
            record = await self.state.get(key)
            last = float(record.value.get("at", 0)) if record else 0.0
            if record is not None and last >= at.timestamp():
                return
            written = await self.state.put(
                key, {"at": at.timestamp()}, expect_version=record.version if record else 0,
                ttl_seconds=_until(at + WINDOW, self.clock.now()),
                conversation_id=conversation_id)
            if written is not None:
                closes = at + WINDOW
                await self.state.put(f"closing:{_hour(closes)}:{conversation_id}", {},
                                     ttl_seconds=_until(closes, self.clock.now()),
                                     conversation_id=conversation_id)
                return
        raise StateConflict(conversation_id)

    async def last_inbound(self, conversation_id: str) -> datetime | None:
        record = await self.state.get(f"window:{conversation_id}")
        if record is None:
            return None
        return datetime.fromtimestamp(float(record.value.get("at", 0)), UTC)

    async def windows_closing(self, after: datetime, until: datetime) -> list[str]:
        """Conversations whose window may close in (after, until]: the caller checks
        each against `last_inbound` (a later message moved the window on)."""
        found: list[str] = []
        hour = after.replace(minute=0, second=0, microsecond=0)
        while hour <= until:
            prefix = f"closing:{_hour(hour)}:"
            for key, _record in await self.state.scan(prefix, limit=100_000):
                found.append(key[len(prefix):])
            hour += timedelta(hours=1)
        return found


def _hour(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d%H")


def _until(at: datetime, now: datetime) -> float:
    """Seconds a record about `at` is kept: until then plus a day of slack (never 0)."""
    return max((at - now).total_seconds(), 0.0) + 86400.0
