"""A fake WhatsApp Cloud API (Graph API) on port 0, and Meta's side of the webhook.

The daemon's side: send (`POST /<version>/<phone_number_id>/messages`, bearer token,
the documented body shapes and limits, the 24-hour window enforced with error 131047
for anything but a template), mark read (same path, `{status: "read"}`), and media
(`GET /<version>/<media_id>` for a short-lived URL, then that URL with the same token).

Meta's side: signed webhook posts in the documented shape, built by the helpers
(`text`, `reply`, `media`, `location`, `status`, `batch`) and sent by `post` with the
right signature, another secret, a broken header or none. Faults per operation:

- `fail_next("send", Fault.error(400, 131026))`, `Fault.error(429, 130429, retry_after=3)`;
- `Fault.lost()`: the message is accepted (and its statuses may follow), then the
  connection is dropped without an answer: the "processed, answer lost" case;
- `Fault.timeout(seconds)`: answer late.

Wire names are spelled out here rather than imported from the adapter: the fake is the
other side of the contract, and a typo in one of them must make the tests fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from handover.clock import Clock, SystemClock

VERSION = "v21.0"


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int = 500
    code: int | None = None
    retry_after: float | None = None
    seconds: float = 0.0

    @classmethod
    def error(cls, status: int, code: int | None = None,
              retry_after: float | None = None) -> Fault:
        return cls("error", status=status, code=code, retry_after=retry_after)

    @classmethod
    def lost(cls) -> Fault:
        return cls("lost")

    @classmethod
    def timeout(cls, seconds: float) -> Fault:
        return cls("timeout", seconds=seconds)


class FakeGraph:
    def __init__(self, *, clock: Clock | None = None, token: str = "graph-token-1",
                 app_secret: str = "app-secret-1", phone_number_id: str = "1065550001",
                 verify_token: str = "verify-1") -> None:
        self.clock = clock or SystemClock()
        self.token = token
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id
        self.verify_token = verify_token
        #: Accepted sends in order (bodies with the wamid we gave them under "_wamid").
        self.sent: list[dict[str, Any]] = []
        #: Messages marked read (their wamids).
        self.read: list[str] = []
        #: Media downloads served (media ids).
        self.downloads: list[str] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        #: When each citizen (wa_id or user_id) last wrote: the 24-hour window.
        self.last_inbound: dict[str, datetime] = {}
        #: Where the daemon's webhook is, for `post`.
        self.webhook_url = ""
        #: Report each accepted send back with a "sent" status webhook, as Meta does
        #: (off by default, so tests decide when statuses arrive).
        self.auto_status = False
        self._reports: set[asyncio.Task[Any]] = set()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._http: aiohttp.ClientSession | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """The Graph API's routes this fake serves (a subclass may mount them elsewhere)."""
        return [
            web.post(f"/{VERSION}/{{number}}/messages", self._messages),
            web.get(f"/{VERSION}/{{media_id}}", self._media_info),
            web.get("/download/{media_id}", self._download),
        ]

    async def start(self) -> str:
        app = web.Application()
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession()
        return self.url

    async def stop(self) -> None:
        for task in list(self._reports):
            task.cancel()
        await asyncio.gather(*self._reports, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, operation: str, fault: Fault, times: int = 1) -> None:
        for _ in range(times):
            self.faults[operation].append(fault)

    def add_media(self, media_id: str, data: bytes, mime_type: str,
                  declared_size: int | None = None) -> None:
        self.media[media_id] = (data, mime_type)
        if declared_size is not None:
            self.media[media_id] = (data, mime_type + f";size={declared_size}")

    def texts(self) -> list[str]:
        """What the citizen was shown, one string per send, in order."""
        out = []
        for body in self.sent:
            kind = body["type"]
            if kind == "text":
                out.append(body["text"]["body"])
            elif kind == "interactive":
                out.append(body["interactive"]["body"]["text"])
            elif kind == "template":
                params = body["template"].get("components", [{}])[0].get("parameters", [])
                out.append(f"template:{body['template']['name']}:" +
                           "|".join(p["text"] for p in params))
            else:
                out.append(f"{kind}:{body[kind].get('link')}")
        return out

    # --- the Graph API ----------------------------------------------------------------------

    def _auth(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, 190, "Invalid OAuth access token")
        return None

    async def _fault(self, operation: str, request: web.Request) -> web.Response | None:
        queue = self.faults[operation]
        if not queue or queue[0].kind == "lost":
            return None
        fault = queue.popleft()
        if fault.kind == "timeout":
            await asyncio.sleep(fault.seconds)
            return None
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else None
        return _error(fault.status, fault.code, "injected", headers)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._auth(request)) is not None:
            return refused
        if request.match_info["number"] != self.phone_number_id:
            return _error(400, 100, "Unsupported post request")
        body = await request.json()
        if body.get("status") == "read":
            if (failed := await self._fault("read", request)) is not None:
                return failed
            self.read.append(body["message_id"])
            return web.json_response({"success": True})
        if (failed := await self._fault("send", request)) is not None:
            return failed
        problem = self._check(body)
        if problem is not None:
            return _error(400, 100, problem)
        who = body.get("to") or body.get("recipient")
        last = self.last_inbound.get(who)
        if body["type"] != "template" and (
                last is None or self.clock.now() - last > timedelta(hours=24)):
            return _error(400, 131047, "Re-engagement message")
        wamid = f"wamid.OUT{next(self._ids)}"
        self.sent.append({**body, "_wamid": wamid})
        if self.auto_status and self.webhook_url:
            status = self.status_of(self.sent[-1], "sent")
            task = asyncio.get_running_loop().create_task(
                self.post(self.batch(self.value(statuses=[status]))))
            self._reports.add(task)
            task.add_done_callback(self._reports.discard)
        if self.faults["send"] and self.faults["send"][0].kind == "lost":
            self.faults["send"].popleft()
            assert request.transport is not None
            request.transport.abort()  # processed, but the answer never arrives
            return web.Response()
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": who, "wa_id": who}],
                                  "messages": [{"id": wamid}]})

    @staticmethod
    def _check(body: dict[str, Any]) -> str | None:
        """The documented shape and limits of a send body."""
        if body.get("messaging_product") != "whatsapp":
            return "messaging_product must be whatsapp"
        if not (body.get("to") or body.get("recipient")):
            return "to or recipient required"
        kind = body.get("type")
        if kind == "text":
            text = body.get("text", {}).get("body", "")
            return None if 0 < len(text) <= 4096 else "text.body length"
        if kind == "interactive":
            inter = body["interactive"]
            if not 0 < len(inter["body"]["text"]) <= 1024:
                return "interactive body length"
            if inter["type"] == "button":
                buttons = inter["action"]["buttons"]
                if not 1 <= len(buttons) <= 3 or any(
                        len(b["reply"]["title"]) > 20 or len(b["reply"]["id"]) > 256
                        for b in buttons):
                    return "reply buttons: 1-3, titles up to 20 characters"
                return None
            if inter["type"] == "list":
                rows = [r for s in inter["action"]["sections"] for r in s["rows"]]
                if not 1 <= len(rows) <= 10 or any(
                        len(r["title"]) > 24 or len(r.get("description", "")) > 72
                        for r in rows) or len(inter["action"]["button"]) > 20:
                    return "list: 1-10 rows, titles up to 24 characters"
                return None
            return "unknown interactive type"
        if kind in ("image", "document", "audio", "video"):
            return None if body.get(kind, {}).get("link") else f"{kind}.link required"
        if kind == "template":
            tpl = body.get("template", {})
            return None if tpl.get("name") and tpl.get("language", {}).get("code") else \
                "template name and language required"
        return f"unsupported type {kind}"

    async def _media_info(self, request: web.Request) -> web.Response:
        if (refused := self._auth(request)) is not None:
            return refused
        if (failed := await self._fault("media", request)) is not None:
            return failed
        media_id = request.match_info["media_id"]
        if media_id not in self.media:
            return _error(404, 100, "Unsupported get request")
        data, mime = self.media[media_id]
        mime, _, size = mime.partition(";size=")
        return web.json_response({
            "messaging_product": "whatsapp", "id": media_id,
            "url": f"{self.url}/download/{media_id}", "mime_type": mime,
            "sha256": hashlib.sha256(data).hexdigest(),
            "file_size": int(size) if size else len(data),
        })

    async def _download(self, request: web.Request) -> web.Response:
        if (refused := self._auth(request)) is not None:
            return refused
        media_id = request.match_info["media_id"]
        self.downloads.append(media_id)
        data, mime = self.media[media_id]
        return web.Response(body=data, content_type=mime.partition(";")[0])

    # --- Meta's webhook -------------------------------------------------------------------

    def _wamid(self) -> str:
        return f"wamid.IN{next(self._ids)}"

    def _message(self, sender: str, kind: str, part: dict[str, Any], wamid: str | None,
                 user_id: str | None) -> dict[str, Any]:
        ts = self.clock.now()
        if sender:
            self.last_inbound[sender] = ts
        if user_id:
            self.last_inbound[user_id] = ts
        msg: dict[str, Any] = {"id": wamid or self._wamid(),
                               "timestamp": str(int(ts.timestamp())), "type": kind,
                               kind: part}
        if sender:
            msg["from"] = sender
        if user_id:
            msg["from_user_id"] = user_id
        return msg

    def text(self, sender: str, body: str, *, wamid: str | None = None,
             user_id: str | None = None) -> dict[str, Any]:
        return self._message(sender, "text", {"body": body}, wamid, user_id)

    def reply(self, sender: str, choice_id: str, title: str, *, kind: str = "button_reply",
              wamid: str | None = None) -> dict[str, Any]:
        return self._message(sender, "interactive",
                             {"type": kind, kind: {"id": choice_id, "title": title}},
                             wamid, None)

    def media_message(self, sender: str, kind: str, media_id: str, mime_type: str,
                      **extra: Any) -> dict[str, Any]:
        return self._message(sender, kind, {"id": media_id, "mime_type": mime_type, **extra},
                             None, None)

    def other(self, sender: str, kind: str, part: dict[str, Any]) -> dict[str, Any]:
        return self._message(sender, kind, part, None, None)

    def status(self, wamid: str, status: str, *, recipient: str = "",
               callback: str | None = None, codes: tuple[int, ...] = ()) -> dict[str, Any]:
        st: dict[str, Any] = {"id": wamid, "status": status, "recipient_id": recipient,
                              "timestamp": str(int(self.clock.now().timestamp()))}
        if callback is not None:
            st["biz_opaque_callback_data"] = callback
        if codes:
            st["errors"] = [{"code": c, "title": "error"} for c in codes]
        return st

    def status_of(self, sent: dict[str, Any], status: str, **kw: Any) -> dict[str, Any]:
        """A status about one of our accepted sends, as Meta reports it."""
        return self.status(sent["_wamid"], status, callback=sent.get("biz_opaque_callback_data"),
                           recipient=sent.get("to", ""), **kw)

    def batch(self, *changes: dict[str, Any], entries: int = 1) -> dict[str, Any]:
        """`changes` are `value` objects; split over `entries` entries."""
        per = max(1, -(-len(changes) // entries))
        groups = [changes[i:i + per] for i in range(0, len(changes), per)] or [()]
        return {"object": "whatsapp_business_account", "entry": [
            {"id": "WABA1", "changes": [{"field": "messages", "value": v} for v in group]}
            for group in groups
        ]}

    def value(self, messages: list[dict[str, Any]] = (),  # type: ignore[assignment]
              statuses: list[dict[str, Any]] = (),  # type: ignore[assignment]
              names: dict[str, str] | None = None) -> dict[str, Any]:
        v: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": {
            "display_phone_number": "31612345678", "phone_number_id": self.phone_number_id}}
        if messages:
            contacts: dict[str, dict[str, Any]] = {}
            for m in messages:
                key = m.get("from") or m.get("from_user_id")
                contact = {"profile": {"name": (names or {}).get(key, "Inwoner")}}
                if m.get("from"):
                    contact["wa_id"] = m["from"]
                if m.get("from_user_id"):
                    contact["user_id"] = m["from_user_id"]
                contacts[key] = contact
            v["contacts"] = list(contacts.values())
            v["messages"] = list(messages)
        if statuses:
            v["statuses"] = list(statuses)
        return v

    async def post(self, payload: dict[str, Any] | bytes, *, secret: str | None = None,
                   signature: str | None = None, sign: bool = True) -> tuple[int, Any]:
        """POST to the daemon's webhook as Meta does; returns (status, parsed answer)."""
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if sign:
            digest = hmac.new((secret or self.app_secret).encode(), raw, hashlib.sha256)
            headers["X-Hub-Signature-256"] = signature or f"sha256={digest.hexdigest()}"
        assert self._http is not None
        async with self._http.post(self.webhook_url, data=raw, headers=headers) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text

    async def say(self, sender: str, text: str, **kw: Any) -> tuple[int, Any]:
        """One text message in its own webhook post."""
        return await self.post(self.batch(self.value([self.text(sender, text, **kw)])))

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> None:
        async def _wait() -> None:
            while not predicate():
                await asyncio.sleep(0.02)
        await asyncio.wait_for(_wait(), timeout)


def _error(status: int, code: int | None, message: str,
           headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "OAuthException",
                                        "code": code or 0, "fbtrace_id": "Afake"}},
                             status=status, headers=headers)
