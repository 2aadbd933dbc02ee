"""Notices that a conversation moved on, for the connections other instances hold.

With several instances on one database a conversation may be open in two tabs whose
sockets are held by two instances, while its deliveries go to one of them (the holder
of the connection lease, see handover/engine/leases.py). The channel adapter on the
delivering instance then calls `AdapterContext.notify_peer_connections`; the notice
travels as a store hint (a PostgreSQL NOTIFY, like typing), and every other instance
hands it to its adapter of the same name (`ChannelAdapter.catch_up`), which replays the
transcript to the connections it holds. The notice names the sending instance (so it
skips its own echo), the adapter and the conversation: nothing personal.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "peer:"


@dataclass(frozen=True, slots=True)
class PeerNotice:
    """Conversation `conversation_id` of channel adapter `adapter` moved on, as seen by
    instance `origin`."""

    origin: str
    adapter: str
    conversation_id: str

    def encode(self) -> str:
        return (f"{PREFIX}{len(self.origin)}:{self.origin}"
                f"{len(self.adapter)}:{self.adapter}{self.conversation_id}")

    @classmethod
    def decode(cls, text: str) -> PeerNotice | None:
        """The notice in `text`, or None when `text` is not a well-formed notice."""
        if not text.startswith(PREFIX):
            return None
        rest = text[len(PREFIX):]
        parts: list[str] = []
        for _ in range(2):
            size, sep, rest = rest.partition(":")
            if not sep or not size.isdigit() or int(size) > len(rest):
                return None
            parts.append(rest[: int(size)])
            rest = rest[int(size):]
        origin, adapter = parts
        if not origin or not adapter or not rest:
            return None
        return cls(origin, adapter, rest)
