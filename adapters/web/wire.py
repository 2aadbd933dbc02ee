"""The web widget's websocket frame protocol: frame shapes, validation and close codes.

Every frame is one JSON object in a text message with a `type`. The widget sends
`hello` first (open a new conversation, or resume one with its token and the last `seq`
it showed), then `message`, `action`, `typing`, `visibility` and `ping`. The daemon answers with
`welcome`, `message`, `ack`, `state`, `typing`, `error` and `pong`. The README of this
package is the reference; this module is the one place that reads and writes frames,
so the README and the code cannot drift apart silently (the tests use these functions).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from handover.sdk.contracts import ControlUpdate, OutboundMessage
from handover.sdk.http import loads
from handover.sdk.model import Party, State, TranscriptEntry
from handover.sdk.pagecontext import clean_page_context

__all__ = [
    "CONTEXT_KEYS",
    "Action",
    "CloseCode",
    "FrameError",
    "Hello",
    "MessageFrame",
    "Ping",
    "Typing",
    "Visibility",
    "ack_frame",
    "entry_frame",
    "error_frame",
    "message_frame",
    "parse_client_frame",
    "parse_hello",
    "state_frame",
    "typing_frame",
    "welcome_frame",
]

MAX_ID_LENGTH = 100
MAX_TOKEN_LENGTH = 200
MAX_PAYLOAD_LENGTH = 1000
MAX_CONTEXT_VALUE_LENGTH = 2048
MAX_LANGUAGE_LENGTH = 16
CONTEXT_KEYS = ("url", "title", "referrer")
ACTIONS = ("request_agent", "leave")


class CloseCode(IntEnum):
    """Why the daemon closed a widget socket (documented in the README)."""

    #: The daemon shuts down; reconnect (to another instance) after a short pause.
    GOING_AWAY = 1001
    #: A frame was larger than the configured limit (aiohttp closes with it).
    MESSAGE_TOO_BIG = 1009
    #: The first frame was not a valid `hello`, or a later frame was malformed JSON.
    PROTOCOL_ERROR = 4400
    #: The token does not open that conversation (missing, forged, another's, erased).
    FORBIDDEN = 4403
    #: The tenant is unknown or does not use this channel.
    UNKNOWN_TENANT = 4404
    #: No `hello` within the allowed time.
    HELLO_TIMEOUT = 4408
    #: Too many frames from this address: a flood. Reconnect later.
    RATE_LIMITED = 4429
    #: The store could not be reached while opening; retry later.
    UNAVAILABLE = 4503


class FrameError(ValueError):
    """A client frame that cannot be accepted: `code` is the error code sent back."""

    def __init__(self, code: str, detail: str, ref: str | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        #: The message_id/action_id the error is about, when known.
        self.ref = ref


# --- client frames ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """Open (no token) or resume (token + conversation_id) a conversation."""

    tenant: str
    language: str | None = None
    conversation_id: str | None = None
    token: str | None = None
    #: The highest `seq` the widget has shown; the daemon replays everything after it.
    last_seq: int = 0
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MessageFrame:
    message_id: str
    text: str
    payload: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    action: str
    action_id: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Typing:
    on: bool


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Visibility:
    """The page went to the background (`hidden`) or came back. A socket that closes
    while its page is hidden, and is not resumed within the grace period, counts as the
    citizen having left."""

    hidden: bool


ClientFrame = MessageFrame | Action | Typing | Ping | Visibility


def _load(raw: str) -> dict[str, Any]:
    try:
        data = loads(raw)
    except ValueError:  # also NaN and `[[[[...` nested past the parser's depth
        raise FrameError("invalid_json", "a frame must be one JSON object") from None
    if not isinstance(data, dict):
        raise FrameError("invalid_json", "a frame must be one JSON object")
    return data


class _Reader:
    """Reads the fields of one frame; unknown fields are refused so typos surface."""

    def __init__(self, data: Mapping[str, Any], allowed: tuple[str, ...], ref: str | None = None):
        unknown = sorted(k for k in data if k not in (*allowed, "type"))
        self.ref = ref
        if unknown:
            raise FrameError("unknown_field", f"unknown field(s): {', '.join(unknown)}", ref)
        self.data = data

    def string(self, key: str, *, required: bool = False, max_length: int | None = None,
               allow_empty: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise FrameError("missing_field", f"{key} is required", self.ref)
            return None
        if not isinstance(value, str):
            raise FrameError("invalid_field", f"{key} must be a string", self.ref)
        if not allow_empty and not value.strip():
            raise FrameError("invalid_field", f"{key} must not be empty", self.ref)
        if max_length is not None and len(value) > max_length:
            raise FrameError("invalid_field", f"{key} may be at most {max_length} characters",
                             self.ref)
        return value

    def ident(self, key: str) -> str:
        value = self.string(key, required=True, max_length=MAX_ID_LENGTH)
        assert value is not None
        if not value.isprintable() or value != value.strip():
            raise FrameError("invalid_field", f"{key} must be printable, without surrounding "
                             "spaces", self.ref)
        return value

    def context(self, key: str) -> dict[str, str]:
        raw = self.data.get(key)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise FrameError("invalid_field", f"{key} must be an object", self.ref)
        unknown = sorted(k for k in raw if k not in CONTEXT_KEYS)
        if unknown:
            raise FrameError("unknown_field", f"unknown field(s) in {key}: {', '.join(unknown)}; "
                             f"allowed: {', '.join(CONTEXT_KEYS)}", self.ref)
        out: dict[str, str] = {}
        for name in CONTEXT_KEYS:
            value = raw.get(name)
            if value is None or value == "":
                continue
            if not isinstance(value, str) or len(value) > MAX_CONTEXT_VALUE_LENGTH:
                raise FrameError("invalid_field", f"{key}.{name} must be a string of at most "
                                 f"{MAX_CONTEXT_VALUE_LENGTH} characters", self.ref)
            out[name] = value
        # The same rule as every channel: addresses without their query string.
        return clean_page_context(out)


def parse_hello(raw: str) -> Hello:
    """The first frame. Raises FrameError when it is not a valid `hello`."""
    data = _load(raw)
    if data.get("type") != "hello":
        raise FrameError("hello_expected", "the first frame must be a hello")
    r = _Reader(data, ("tenant", "language", "conversation_id", "token", "last_seq", "context"))
    tenant = r.string("tenant", required=True, max_length=MAX_ID_LENGTH)
    assert tenant is not None
    conversation_id = r.string("conversation_id", max_length=MAX_ID_LENGTH)
    token = r.string("token", max_length=MAX_TOKEN_LENGTH)
    if (conversation_id is None) != (token is None):
        raise FrameError("invalid_field", "send conversation_id and token together (resume), "
                         "or neither (open a new conversation)")
    last_seq = data.get("last_seq", 0)
    if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
        raise FrameError("invalid_field", "last_seq must be an integer >= 0")
    return Hello(
        tenant=tenant,
        language=r.string("language", max_length=MAX_LANGUAGE_LENGTH),
        conversation_id=conversation_id,
        token=token,
        last_seq=last_seq,
        context=r.context("context"),
    )


def parse_client_frame(raw: str, max_text_length: int) -> ClientFrame:
    """A frame after `hello`. Raises FrameError (answered with an `error` frame)."""
    data = _load(raw)
    kind = data.get("type")
    if kind == "message":
        ref = data.get("message_id") if isinstance(data.get("message_id"), str) else None
        r = _Reader(data, ("message_id", "text", "payload"), ref)
        message_id = r.ident("message_id")
        text = r.string("text", allow_empty=True) or ""
        if len(text) > max_text_length:
            raise FrameError("text_too_long", f"text may be at most {max_text_length} characters",
                             message_id)
        payload = r.string("payload", max_length=MAX_PAYLOAD_LENGTH)
        if not text.strip() and payload is None:
            raise FrameError("empty_message", "send a text or a payload", message_id)
        return MessageFrame(message_id, text, payload)
    if kind == "action":
        ref = data.get("action_id") if isinstance(data.get("action_id"), str) else None
        r = _Reader(data, ("action", "action_id", "context"), ref)
        action = r.string("action", required=True, max_length=MAX_ID_LENGTH)
        action_id = r.ident("action_id")
        if action not in ACTIONS:
            raise FrameError("invalid_field", f"action must be one of: {', '.join(ACTIONS)}",
                             action_id)
        return Action(action, action_id, r.context("context"))
    if kind == "typing":
        on = _Reader(data, ("on",)).data.get("on")
        if not isinstance(on, bool):
            raise FrameError("invalid_field", "on must be true or false")
        return Typing(on)
    if kind == "visibility":
        hidden = _Reader(data, ("hidden",)).data.get("hidden")
        if not isinstance(hidden, bool):
            raise FrameError("invalid_field", "hidden must be true or false")
        return Visibility(hidden)
    if kind == "ping":
        _Reader(data, ())
        return Ping()
    raise FrameError("unknown_type",
                     "type must be one of: message, action, typing, visibility, ping")


# --- server frames ------------------------------------------------------------------


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def own_message_id(conversation_id: str, source_id: str) -> str:
    """The id the widget chose for its own message, from the transcript's source id."""
    prefix = f"m:{conversation_id}:"
    return source_id[len(prefix):] if source_id.startswith(prefix) else source_id


def message_frame(message: OutboundMessage) -> str:
    return _dump({
        "type": "message",
        "seq": message.seq,
        "message_id": message.message_id,
        "party": message.party.value,
        "sender_name": message.sender_name,
        "content": message.content.to_json(),
        "created_at": message.created_at.isoformat() if message.created_at else None,
    })


def entry_frame(entry: TranscriptEntry) -> str:
    """A transcript entry replayed on resume; the citizen's own carry the widget's id."""
    message_id = entry.message_id
    if entry.party is Party.CITIZEN:
        message_id = own_message_id(entry.conversation_id, message_id)
    return message_frame(OutboundMessage(
        seq=entry.seq, message_id=message_id, party=entry.party, content=entry.content,
        sender_name=entry.sender_name, created_at=entry.created_at,
    ))


def state_payload(update: ControlUpdate) -> dict[str, Any]:
    wait = update.estimated_wait_seconds
    return {
        "state": update.state.value,
        "agent_name": update.agent_name,
        "queue_position": update.queue_position,
        "estimated_wait_seconds": wait if wait is None or math.isfinite(wait) else None,
    }


def state_frame(update: ControlUpdate) -> str:
    return _dump({"type": "state", **state_payload(update)})


def welcome_frame(
    conversation_id: str, language: str, update: ControlUpdate, *, token: str | None,
    resumed: bool, replay: int = 0,
) -> str:
    """`replay`: how many `message` frames follow at once from the transcript (history
    the citizen saw before: the widget shows them without animation or announcement)."""
    data: dict[str, Any] = {
        "type": "welcome",
        "conversation_id": conversation_id,
        "language": language,
        "resumed": resumed,
        "replay": replay,
        "state": state_payload(update),
    }
    if token is not None:
        data["token"] = token
    return _dump(data)


def ack_frame(ref_key: str, ref: str, outcome: str) -> str:
    return _dump({"type": "ack", ref_key: ref, "outcome": outcome})


def error_frame(code: str, detail: str, ref: str | None = None) -> str:
    data: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
    if ref is not None:
        data["ref"] = ref
    return _dump(data)


def typing_frame(party: Party, on: bool) -> str:
    return _dump({"type": "typing", "party": party.value, "on": on})


def pong_frame() -> str:
    return _dump({"type": "pong"})


def initial_state(state: State, agent_name: str | None) -> ControlUpdate:
    return ControlUpdate(state=state, agent_name=agent_name if state is State.AGENT else None)
