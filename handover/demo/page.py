"""The demo's mock municipal website: a page at `/` with the chat widget embedded.

Served only by `handover demo`, never by a configured daemon: a real municipality
embeds the widget in its own site. The page loads the widget with the single script tag
a municipality would use, and links to the agent console.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

#: Only our own origin: the page, its stylesheet, the widget and its socket.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def _asset(name: str) -> str:
    return resources.files("handover.demo.site").joinpath(name).read_text(encoding="utf-8")


def add_demo_page(app: web.Application) -> None:
    """Serve the demo page at `/` (and its stylesheet) on the daemon's application."""
    page, style = _asset("index.html"), _asset("demo.css")

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers=_HEADERS)

    async def css(request: web.Request) -> web.Response:
        return web.Response(text=style, content_type="text/css", headers=_HEADERS)

    app.router.add_get("/", index)
    app.router.add_get("/demo.css", css)
