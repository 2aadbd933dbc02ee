"""Transfer references: what the SIP header carries so the contact centre's system can
fetch the transcript of the call it receives.

A reference names the conversation, the handover and the moment it expires, and
carries an HMAC-SHA256 over all three with the channel's `reference_secret`. Nobody
without the secret can make one or stretch its expiry, so references cannot be guessed,
enumerated or used for ever once they leaked (a SIP header passes through several
systems and their logs), and the daemon stores nothing to check them.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_MAC_HEX = 32
#: conversation id . handover number . expiry (Unix seconds) . MAC
_SHAPE = re.compile(rf"([^.]{{1,100}})\.([0-9]{{1,9}})\.([0-9]{{1,12}})\.([0-9a-f]{{{_MAC_HEX}}})")


def _mac(secret: str, conversation_id: str, handover_no: int, expires_at: int) -> str:
    message = f"{conversation_id}.{handover_no}.{expires_at}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:_MAC_HEX]


def make_reference(secret: str, conversation_id: str, handover_no: int,
                   expires_at: float) -> str:
    """A reference valid until `expires_at` (Unix seconds)."""
    until = int(expires_at)
    return (f"{conversation_id}.{handover_no}.{until}."
            f"{_mac(secret, conversation_id, handover_no, until)}")


def read_reference(secret: str, reference: str, now: float) -> tuple[str, int] | None:
    """(conversation id, handover number), or None when the reference is not ours or
    expired at `now` (Unix seconds)."""
    match = _SHAPE.fullmatch(reference)
    if match is None:
        return None
    conversation_id, number, until, mac = (match[1], int(match[2]), int(match[3]),
                                           match[4])
    if not hmac.compare_digest(mac, _mac(secret, conversation_id, number, until)):
        return None
    if until <= now:
        return None
    return conversation_id, number
