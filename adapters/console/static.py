"""The console page itself: five static files, served with a strict CSP.

The page holds no data of its own (everything comes from the API after sign-in), so it
is served without a token. The CSP allows only this origin's own script, style and
connections (websocket included: `'self'` does not cover ws: in every browser), no
inline script, no framing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

__all__ = ["StaticPage"]

_HERE = Path(__file__).parent
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_FILES = {
    "": ("console.html", "text/html"),
    "console.js": ("console.js", "text/javascript"),
    "render.js": ("render.js", "text/javascript"),
    "alerts.js": ("alerts.js", "text/javascript"),
    "http.js": ("http.js", "text/javascript"),
    "connection.js": ("connection.js", "text/javascript"),
    "closing.js": ("closing.js", "text/javascript"),
    # The agent's tools, each in a file of its own (hooks.js).
    "hooks.js": ("hooks.js", "text/javascript"),
    "canned.js": ("canned.js", "text/javascript"),
    "notes.js": ("notes.js", "text/javascript"),
    "transfer.js": ("transfer.js", "text/javascript"),
    "status.js": ("status.js", "text/javascript"),
    "idle.js": ("idle.js", "text/javascript"),
    "console.css": ("console.css", "text/css"),
}
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def content_security_policy(host: str) -> str:
    # The Host header is the client's word: only a plain host[:port] goes into a header.
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    return "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self'{sockets}",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


@dataclass(frozen=True, slots=True)
class StaticPage:
    """The page's files, read once when the routes are built (they are small)."""

    files: dict[str, tuple[bytes, str]]

    @classmethod
    def load(cls) -> StaticPage:
        return cls({
            path: ((_HERE / name).read_bytes(), mime) for path, (name, mime) in _FILES.items()
        })

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"/{path}", self._handler(path)) for path in self.files]

    def _handler(self, path: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        body, mime = self.files[path]

        async def serve(request: web.Request) -> web.Response:
            headers = dict(_HEADERS)
            headers["Content-Security-Policy"] = content_security_policy(request.host)
            return web.Response(body=body, content_type=mime, charset="utf-8", headers=headers)

        return serve
