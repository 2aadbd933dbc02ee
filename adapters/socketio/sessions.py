"""Which socket.io connections hold which widget session on this daemon instance, and
what each session was sent.

A session is keyed by the store's channel key (the SHA-256 of its session id), the same
value `deliver()` finds on the conversation, so a delivery needs no store read. The
registry is memory only. What a widget missed while it had no connection here is not
kept here but in the outbox: a delivery to a session without a live connection on this
instance fails as transient, and the instance that holds the widget's connection (after
a reconnect, a restart or on another instance) delivers it then, in order, once.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

#: Sessions remembered without a connection (for the replay when the widget returns);
#: beyond it the least recently used are forgotten.
MAX_IDLE_SESSIONS = 50_000


def channel_key(session_id: str) -> str:
    """What the store keeps instead of the session id (the id opens the conversation)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(slots=True)
class Session:
    """One widget session. `sent_seq` is the highest conversation seq emitted to it by
    this instance, None while unknown here (nothing emitted since this instance learnt
    the session, or forgotten because another instance may have emitted since); the
    lock orders a resume replay before live deliveries, so nothing is sent twice.
    `leased`: this instance holds the conversation's connection lease for it."""

    key: str
    conversation_id: str | None = None
    sent_seq: int | None = None
    leased: bool = False
    #: The quick replies last offered, payload -> title (a click sends the payload).
    offered: dict[str, str] = field(default_factory=dict)
    sids: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(slots=True)
class Connection:
    """One socket.io connection (a namespace sid) after its checks passed."""

    sid: str
    tenant: str
    address: str
    session: Session | None = None
    #: The session id the connection asked for (or was given): every citizen message
    #: must name it. Memory only; the store keeps its hash.
    session_id: str | None = None


class SessionRegistry:
    def __init__(self) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._connections: dict[str, Connection] = {}
        self._per_address: Counter[str] = Counter()

    def connect(self, sid: str, tenant: str, address: str) -> Connection:
        conn = self._connections[sid] = Connection(sid, tenant, address)
        self._per_address[address] += 1
        return conn

    def connection(self, sid: str) -> Connection | None:
        return self._connections.get(sid)

    def disconnect(self, sid: str) -> Session | None:
        """Forget a connection; returns the session it held (which may now be idle)."""
        conn = self._connections.pop(sid, None)
        if conn is not None:
            self._per_address[conn.address] -= 1
            if self._per_address[conn.address] <= 0:
                del self._per_address[conn.address]
        if conn is not None and conn.session is not None:
            conn.session.sids.discard(sid)
            return conn.session
        return None

    def count_from(self, address: str) -> int:
        """Open connections from one client address (for the per-address cap)."""
        return self._per_address.get(address, 0)

    def bind(self, conn: Connection, key: str) -> Session:
        """Attach a connection to the session `key` (leaving any session it had)."""
        if conn.session is not None:
            conn.session.sids.discard(conn.sid)
        session = self.session(key, create=True)
        assert session is not None
        session.sids.add(conn.sid)
        conn.session = session
        return session

    def session(self, key: str, create: bool = False) -> Session | None:
        session = self._sessions.get(key)
        if session is None:
            if not create:
                return None
            session = self._sessions[key] = Session(key)
            self._forget_idle()
        self._sessions.move_to_end(key)
        return session

    def sids(self) -> list[str]:
        return list(self._connections)

    def count(self) -> int:
        return len(self._connections)

    def _forget_idle(self) -> None:
        if len(self._sessions) <= MAX_IDLE_SESSIONS:
            return
        for key, session in list(self._sessions.items()):
            if len(self._sessions) <= MAX_IDLE_SESSIONS:
                break
            if not session.sids:
                del self._sessions[key]
