"""Transfer references: what the SIP header carries so the contact centre's system can
fetch the transcript of the call it receives.

A reference names the conversation and the handover and carries an HMAC-SHA256 over
both with the channel's `reference_secret`. Nobody without the secret can make one, so
references cannot be guessed or enumerated, and the daemon stores nothing to check them.
"""

from __future__ import annotations

import hashlib
import hmac

_MAC_HEX = 32


def _mac(secret: str, conversation_id: str, handover_no: int) -> str:
    message = f"{conversation_id}.{handover_no}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:_MAC_HEX]


def make_reference(secret: str, conversation_id: str, handover_no: int) -> str:
    return f"{conversation_id}.{handover_no}.{_mac(secret, conversation_id, handover_no)}"


def read_reference(secret: str, reference: str) -> tuple[str, int] | None:
    """(conversation id, handover number), or None when the reference is not ours."""
    parts = reference.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[2]) != _MAC_HEX:
        return None
    conversation_id, number, mac = parts[0], int(parts[1]), parts[2]
    if not hmac.compare_digest(mac, _mac(secret, conversation_id, number)):
        return None
    return conversation_id, number
