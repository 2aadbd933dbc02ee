"""The operators' admin API under /admin, behind a bearer token.

Mount with `app.add_routes(admin_routes(view))` (after `ops_routes`; the order between
the two does not matter, they share no path).

Authentication: `Authorization: Bearer <token>`, compared in constant time against
every configured token (two during a rotation). 401 when the header is missing or not a
bearer token, 403 when the token is wrong. With no token configured the whole /admin
tree answers 404, as if it did not exist. The tokens are read from the view on every
request, so a configuration reload takes effect at once. Tokens are never logged; the
audit log names the slot of the token used (0 or 1) so an operator can see when the old
one of a rotation stops being used.

Endpoints:

- GET    /admin/conversations/{id}            conversation, transcript, notes, outbox
- DELETE /admin/conversations/{id}            erase bodies and identity (privacy request)
- GET    /admin/dead-letters?limit=N          dead letters, oldest first (N: 1..1000)
- POST   /admin/dead-letters/{id}/replay      put one back in the outbox

Conversation ids are 32 hex characters and dead letter ids positive integers; anything
else is 400 before the store is asked. Unknown /admin paths (and wrong methods) answer
404 only after authentication, so they cannot be used to probe the API.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from aiohttp import hdrs, web

from handover import metrics
from handover.http.middleware import json_error
from handover.http.ops import OpsView
from handover.model import Conversation, DeadLetter, OutboxRow, TranscriptEntry

log = structlog.get_logger("handover.http.admin")

PREFIX = "/admin"
#: Transcript entries returned at most; `transcript_truncated` says when there are more.
MAX_TRANSCRIPT = 1000
DEFAULT_DEAD_LETTERS = 100
MAX_DEAD_LETTERS = 1000

_CONVERSATION_ID = re.compile(r"[0-9a-fA-F]{32}")
# At most 18 digits keeps the value inside SQLite's and PostgreSQL's 64-bit integers.
_DEAD_LETTER_ID = re.compile(r"[0-9]{1,18}")
_WWW_AUTHENTICATE = 'Bearer realm="handover-admin"'

AdminHandler = Callable[[web.Request, int], Awaitable[web.StreamResponse]]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _conversation_json(c: Conversation) -> dict[str, Any]:
    # channel_key is left out on purpose: it is the citizen's identity on the channel
    # (a phone number for WhatsApp), and the operator does not need it to debug.
    return {
        "id": c.id,
        "tenant": c.tenant,
        "channel": c.channel,
        "state": c.state.value,
        "epoch": c.epoch,
        "handover_no": c.handover_no,
        "desk_thread": c.desk_thread,
        "seq": c.seq,
        "agent_name": c.agent_name,
        "bot_escalations": c.bot_escalations,
        "language": c.language,
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
        "version": c.version,
        "context": dict(c.context),
    }


def _entry_json(e: TranscriptEntry) -> dict[str, Any]:
    return {**e.to_json(), "handover_no": e.handover_no}


def _outbox_json(r: OutboxRow) -> dict[str, Any]:
    # No payload: the message texts are in the transcript already.
    return {
        "id": r.id,
        "kind": r.kind,
        "target": r.target.value,
        "epoch": r.epoch,
        "attempts": r.attempts,
        "in_flight": r.in_flight,
        "last_error": r.last_error,
        "created_at": _iso(r.created_at),
    }


def _dead_letter_json(d: DeadLetter) -> dict[str, Any]:
    return {
        "id": d.id,
        "conversation_id": d.conversation_id,
        "target": d.target.value,
        "kind": d.kind,
        "reason": d.reason,
        "attempts": d.attempts,
        "created_at": _iso(d.created_at),
        "failed_at": _iso(d.failed_at),
        "payload": d.payload,
    }


def _conversation_id(request: web.Request) -> str:
    raw = request.match_info["id"]
    if not _CONVERSATION_ID.fullmatch(raw):
        raise json_error(
            web.HTTPBadRequest, "bad_conversation_id", "expected 32 hexadecimal characters"
        )
    return raw.lower()  # ids are minted as uuid4().hex, always lower case


def _dead_letter_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not _DEAD_LETTER_ID.fullmatch(raw):
        raise json_error(web.HTTPBadRequest, "bad_dead_letter_id", "expected a positive integer")
    return int(raw)


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _matching_slot(presented: str, tokens: tuple[str, ...]) -> int | None:
    """The index of the configured token equal to `presented`, compared in constant time.

    Every configured token is compared (no early exit), so the timing tells neither
    which slot matched nor how much of a token was right. surrogatepass makes the
    encoding total and one-to-one, so no two different header values compare equal.
    """
    given = presented.encode("utf-8", "surrogatepass")
    slot: int | None = None
    for i, token in enumerate(tokens):
        if token and hmac.compare_digest(given, token.encode("utf-8", "surrogatepass")):
            slot = i
    return slot


def _guarded(view: OpsView, handler: AdminHandler) -> Callable[[web.Request], Awaitable[Any]]:
    """Wrap an admin handler with the enable check and bearer authentication.

    The handler gets the slot of the token that was used, for the audit log.
    """

    async def guarded(request: web.Request) -> web.StreamResponse:
        tokens = view.admin_tokens
        if not tokens:
            raise json_error(web.HTTPNotFound, "not_found")
        presented = _presented_token(request)
        if presented is None:
            metrics.HTTP_REJECTED.labels("admin_unauthorized").inc()
            log.warning("admin.auth_missing", method=request.method, path=request.path)
            raise json_error(
                web.HTTPUnauthorized,
                "unauthorized",
                "a bearer token is required",
                headers={hdrs.WWW_AUTHENTICATE: _WWW_AUTHENTICATE},
            )
        slot = _matching_slot(presented, tokens)
        if slot is None:
            metrics.HTTP_REJECTED.labels("admin_forbidden").inc()
            log.warning(
                "admin.auth_failed",
                method=request.method,
                path=request.path,
                remote=request.remote,
            )
            raise json_error(web.HTTPForbidden, "forbidden", "the token is not valid")
        return await handler(request, slot)

    return guarded


def admin_routes(view: OpsView) -> list[web.RouteDef]:
    """Route definitions for the admin API (see the module docstring).

    Ends with catch-all routes for the rest of /admin, so that unknown paths and wrong
    methods are also behind the enable check and authentication.
    """

    async def get_conversation(request: web.Request, slot: int) -> web.Response:
        conversation_id = _conversation_id(request)
        store = view.store
        conv = await store.get_conversation(conversation_id)
        if conv is None:
            raise json_error(web.HTTPNotFound, "unknown_conversation")
        # One more than shown, to tell whether the transcript was cut.
        transcript = await store.transcript(conversation_id, 0, MAX_TRANSCRIPT + 1)
        notes = await store.desk_notes(conversation_id)
        outbox = await store.outbox_for(conversation_id)
        log.info("admin.conversation_viewed", conversation_id=conversation_id, token_slot=slot)
        return web.json_response(
            {
                "conversation": _conversation_json(conv),
                "transcript": [_entry_json(e) for e in transcript[:MAX_TRANSCRIPT]],
                "transcript_truncated": len(transcript) > MAX_TRANSCRIPT,
                "desk_notes": [_entry_json(e) for e in notes],
                "outbox": [_outbox_json(r) for r in outbox],
            },
            dumps=_dumps,
        )

    async def erase_conversation(request: web.Request, slot: int) -> web.Response:
        conversation_id = _conversation_id(request)
        if not await view.store.erase_conversation(conversation_id):
            raise json_error(web.HTTPNotFound, "unknown_conversation")
        log.info("admin.conversation_erased", conversation_id=conversation_id, token_slot=slot)
        return web.json_response({"erased": True})

    async def list_dead_letters(request: web.Request, slot: int) -> web.Response:
        raw = request.query.get("limit", str(DEFAULT_DEAD_LETTERS))
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_DEAD_LETTERS:
            raise json_error(
                web.HTTPBadRequest, "bad_limit", f"expected an integer 1..{MAX_DEAD_LETTERS}"
            )
        letters = await view.store.dead_letters(int(raw))
        return web.json_response(
            {"dead_letters": [_dead_letter_json(d) for d in letters]}, dumps=_dumps
        )

    async def replay_dead_letter(request: web.Request, slot: int) -> web.Response:
        dead_id = _dead_letter_id(request)
        if not await view.store.replay_dead_letter(dead_id, view.now()):
            raise json_error(web.HTTPNotFound, "unknown_dead_letter")
        log.info("admin.dead_letter_replayed", dead_letter_id=dead_id, token_slot=slot)
        view.wake_delivery()
        return web.json_response({"replayed": True})

    async def not_found(request: web.Request, slot: int) -> web.Response:
        raise json_error(web.HTTPNotFound, "not_found")

    return [
        web.get(f"{PREFIX}/conversations/{{id}}", _guarded(view, get_conversation)),
        web.delete(f"{PREFIX}/conversations/{{id}}", _guarded(view, erase_conversation)),
        web.get(f"{PREFIX}/dead-letters", _guarded(view, list_dead_letters)),
        web.post(f"{PREFIX}/dead-letters/{{id}}/replay", _guarded(view, replay_dead_letter)),
        # Last: aiohttp tries resources in order, so these see only what nothing above
        # matched (an unknown path, or a known path with another method).
        web.route("*", PREFIX, _guarded(view, not_found)),
        web.route("*", f"{PREFIX}/{{tail:.*}}", _guarded(view, not_found)),
    ]


def _dumps(value: Any) -> str:
    """json.dumps that survives odd values in stored context or payloads."""
    return json.dumps(value, ensure_ascii=False, default=str)
