"""Typing indicators across instances.

A typing indicator is best effort and never stored. With several instances on one
database, the agent's typing may be reported to an instance that does not hold the
citizen's socket; that instance passes it on as a store hint (a PostgreSQL NOTIFY),
and every instance hands it to its channel adapter, which shows it on the sockets it
holds (and ignores it when it holds none). The hint names the sending instance, so the
sender skips its own echo, and carries only a conversation id and a flag: nothing
personal.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "typing:"
_ON = "1"
_OFF = "0"


@dataclass(frozen=True, slots=True)
class TypingHint:
    """An agent's typing state for a conversation, sent by instance `origin`."""

    origin: str
    conversation_id: str
    on: bool

    def encode(self) -> str:
        flag = _ON if self.on else _OFF
        return f"{PREFIX}{flag}:{len(self.origin)}:{self.origin}{self.conversation_id}"

    @classmethod
    def decode(cls, text: str) -> TypingHint | None:
        """The hint in `text`, or None when `text` is not a well-formed typing hint."""
        if not text.startswith(PREFIX):
            return None
        flag, _, rest = text[len(PREFIX):].partition(":")
        size, _, rest = rest.partition(":")
        if flag not in (_ON, _OFF) or not size.isdigit() or int(size) > len(rest):
            return None
        origin, conversation_id = rest[: int(size)], rest[int(size):]
        if not origin or not conversation_id:
            return None
        return cls(origin, conversation_id, flag == _ON)
