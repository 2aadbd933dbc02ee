"""Dedup and echo keys: the one place where their spelling is decided.

Every inbound event carries `(source, source_id)`; the core's inbox refuses a second
event with the same pair, so a sender's retry is applied once. Two rules follow:

- `source_id` must be unique within what the sender guarantees unique. A desk whose
  message ids are unique only per thread must scope them: `scoped_key(thread, id)`.
- A desk echoes what we posted to it (the agent's own desk shows our message, and
  its webhook reports it back). The delivery worker records the id the desk assigned
  to what we posted as `desk_message_key(id)`; a desk adapter that builds its
  `AgentMessage.source_id` with the same function gets those echoes dropped. A desk
  that spells the key another way loses echo suppression silently, so never write
  the prefix by hand.
"""

from __future__ import annotations

_DESK_MESSAGE = "msg:"
_SEPARATOR = ":"


def desk_message_key(desk_message_id: str) -> str:
    """The `source_id` of a message the desk assigned `desk_message_id` to.

    Used by the core when it records an echo and by desk adapters for inbound agent
    messages, so the two always meet."""
    return f"{_DESK_MESSAGE}{desk_message_id}"


def scoped_desk_message_key(thread: str, desk_message_id: str) -> str:
    """`desk_message_key` for a desk whose message ids are unique only per thread."""
    return desk_message_key(scoped_key(thread, desk_message_id))


def scoped_key(*parts: str) -> str:
    """A dedup key from parts (thread, message id...), unambiguous whatever the parts hold.

    A separator inside a part is escaped, so ("a:b", "c") and ("a", "b:c") differ."""
    return _SEPARATOR.join(_escape(p) for p in parts)


def _escape(part: str) -> str:
    return part.replace("\\", "\\\\").replace(_SEPARATOR, "\\" + _SEPARATOR)
