"""Browser tests of the web widget: Playwright for Python driving Debian's Chromium.

Set-up, each step loud when it cannot be done:
- Chromium: `/usr/bin/chromium`; when missing and we run as root (as CI does on a fresh
  Debian machine) it is installed with apt-get, otherwise the tests are skipped with the
  reason. No `playwright install`: no browser is downloaded.
- axe-core: `npm ci` into tests/browser/node_modules (package.json and package-lock.json
  are committed) when missing; the page loads axe.min.js from there.
- The daemon runs in-process on a real loopback port (the web channel, the demo bot and
  the demo desk, SQLite in a temporary directory), behind a small TCP proxy the tests
  can cut to drop every connection. The embedding page is served by a second server on
  another port, so the widget is cross-origin exactly as on a municipality's site.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from handover.config.load import parse_config
from handover.daemon.app import Daemon

HERE = Path(__file__).parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = HERE / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TENANT = "demo"


def _ensure_chromium() -> str | None:
    """None when Chromium is there (installed now if need be), else why not."""
    if CHROMIUM.exists():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(cmd)} failed: {done.stderr[-500:]}"
    return None if CHROMIUM.exists() else f"apt-get installed no {CHROMIUM}"


def _ensure_axe() -> str | None:
    if AXE.exists():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is missing: cannot install axe-core"
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0 or not AXE.exists():
        return f"npm ci failed: {done.stderr[-500:]}"
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("SKIPPED LOUDLY: the playwright package is not installed (pip install -e .[dev])")
    problem = _ensure_chromium()
    if problem:
        pytest.skip(f"SKIPPED LOUDLY: no Chromium for the browser tests: {problem}")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def municipal_tokens() -> dict[str, tuple[str, str]]:
    """MUNICIPAL_TOKENS, installed; skipped loudly when npm cannot install them."""
    problem = ensure_municipal_tokens()
    if problem:
        pytest.skip(f"SKIPPED LOUDLY: no municipal design tokens: {problem}")
    return MUNICIPAL_TOKENS


@pytest.fixture(scope="session")
def axe_source() -> str:
    problem = _ensure_axe()
    if problem:
        pytest.skip(f"SKIPPED LOUDLY: no axe-core for the accessibility checks: {problem}")
    return AXE.read_text()


# --- a TCP proxy that can cut every connection -------------------------------------------


class CuttableProxy:
    """Forwards loopback TCP to the daemon; `cut()` drops every open connection and,
    while `refusing`, new ones are closed at once (the network is away). While `stalled`,
    every byte either way is swallowed and nothing is closed: a black hole, as when a
    mobile network or a NAT forgets the connection without a word."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refusing = False
        self.stalled = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    if self.stalled:
                        continue
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    def cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


# --- the embedding page -------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>{head}
<script>window._sz = [];</script>
</head>
<body{body_attrs}>
<header><h1>{title}</h1></header>
<main><p>Informatie over {title}.</p><p><a href="/other">Naar een andere pagina</a></p></main>
<script src="{widget}" data-tenant="{tenant}" defer></script>
</body>
</html>
"""

FIXTURE_TOKENS = """
/* A test fixture theme: made-up token values, not any municipality's house style. */
.fixture-theme {
  --utrecht-document-font-family: "Courier New", monospace;
  --utrecht-document-color: rgb(20, 20, 60);
  --utrecht-document-background-color: rgb(255, 250, 240);
  --utrecht-button-primary-action-background-color: rgb(0, 90, 40);
  --utrecht-button-primary-action-color: rgb(255, 255, 255);
  --utrecht-button-border-radius: 12px;
  --utrecht-focus-outline-color: rgb(200, 0, 120);
}
"""


# Real municipal design tokens, installed from npm when a test asks for them and never
# committed or shipped: their licences keep them to their municipalities. Pinned, so a
# new release cannot change a test's outcome unseen. name -> (package@version, theme class).
MUNICIPAL_TOKENS = {
    "rotterdam": ("@nl-design-system-unstable/rotterdam-design-tokens@1.0.0-alpha.125",
                  "rotterdam-theme"),
    "utrecht": ("@utrecht/design-tokens@5.0.1", "utrecht-theme"),
}
MUNICIPAL_TOKENS_DIR = HERE / "node_modules" / ".municipal-tokens"


def municipal_token_dist(name: str) -> Path:
    """The package's dist/ folder (with index.css) for MUNICIPAL_TOKENS[name]."""
    spec = MUNICIPAL_TOKENS[name][0]
    return MUNICIPAL_TOKENS_DIR / "node_modules" / spec.rsplit("@", 1)[0] / "dist"


def ensure_municipal_tokens() -> str | None:
    """None when every package in MUNICIPAL_TOKENS is installed (now if need be), else why not."""
    if all((municipal_token_dist(n) / "index.css").exists() for n in MUNICIPAL_TOKENS):
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is missing: cannot install the municipal design tokens"
    MUNICIPAL_TOKENS_DIR.mkdir(parents=True, exist_ok=True)
    specs = [spec for spec, _ in MUNICIPAL_TOKENS.values()]
    done = subprocess.run(
        [npm, "install", "--no-save", "--no-package-lock", "--ignore-scripts", "--no-audit",
         "--no-fund", "--prefix", str(MUNICIPAL_TOKENS_DIR), *specs],
        capture_output=True, text=True, timeout=600)
    missing = [n for n in MUNICIPAL_TOKENS if not (municipal_token_dist(n) / "index.css").exists()]
    if done.returncode != 0 or missing:
        return f"npm install of {specs} failed: {done.stderr[-500:]}"
    return None


def page_app(holder: dict[str, str]) -> web.Application:
    """The embedding pages; `holder["widget"]` is the widget's URL (known only later).
    /municipal/<name> is a page in a municipality's house style: its token stylesheet
    loaded and its theme class on <body>, the widget with the default theme class."""

    async def page(request: web.Request) -> web.Response:
        name = request.match_info.get("name", "")
        tenant = "tokens" if name == "tokens" else TENANT
        title = {"other": "Paspoort aanvragen", "tokens": "Huisstijl"}.get(name, "Afval")
        html = PAGE.format(lang=request.query.get("lang", "nl"), title=title, head="",
                           widget=holder["widget"], tenant=tenant, body_attrs="")
        return web.Response(text=html, content_type="text/html")

    async def municipal(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in MUNICIPAL_TOKENS:
            raise web.HTTPNotFound()
        head = f'\n<link rel="stylesheet" href="/municipal-css/{name}/index.css">'
        html = PAGE.format(lang="nl", title="Afval", head=head, widget=holder["widget"],
                           tenant=TENANT, body_attrs=f' class="{MUNICIPAL_TOKENS[name][1]}"')
        return web.Response(text=html, content_type="text/html")

    async def municipal_css(request: web.Request) -> web.FileResponse:
        name, file = request.match_info["name"], request.match_info["file"]
        if name not in MUNICIPAL_TOKENS or not file.endswith(".css") or "/" in file:
            raise web.HTTPNotFound()
        path = municipal_token_dist(name) / file
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def tokens(request: web.Request) -> web.Response:
        return web.Response(text=FIXTURE_TOKENS, content_type="text/css")

    app = web.Application()
    app.add_routes([web.get("/", page), web.get("/fixture-tokens.css", tokens),
                    web.get("/municipal/{name}", municipal),
                    web.get("/municipal-css/{name}/{file}", municipal_css),
                    web.get("/{name}", page)])
    return app


# --- the running system ---------------------------------------------------------------------


class System:
    """The daemon, its proxy and the page server, with the agent's desk API."""

    def __init__(self, daemon: Daemon, proxy: CuttableProxy, page_url: str, daemon_url: str):
        self.daemon = daemon
        self.proxy = proxy
        self.page_url = page_url
        self.daemon_url = daemon_url
        self.http = aiohttp.ClientSession()

    async def desk(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.request(method, f"{self.daemon_url}/desk{path}", json=body) as resp:
            assert resp.status < 300, (resp.status, await resp.text())
            return await resp.json()

    async def thread_of(self, conversation_id: str) -> str:
        for _ in range(100):
            threads = await self.desk("GET", "/threads")
            for t in threads:
                if t["conversation_id"] == conversation_id and t["status"] != "closed":
                    return str(t["thread_id"])
            await asyncio.sleep(0.05)
        raise AssertionError("no desk thread")


async def _site(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, int(runner.addresses[0][1])


# One event loop for the browser tests, so one Chromium serves them all (a launch costs
# seconds); every test still gets its own daemon and pages.
LOOP = "session"


@pytest_asyncio.fixture(loop_scope=LOOP)
async def system(tmp_path: Path) -> AsyncIterator[System]:
    # The page server first: its origin goes into the daemon's allowlist.
    holder: dict[str, str] = {}
    page_runner, page_port = await _site(page_app(holder))
    page_origin = f"http://127.0.0.1:{page_port}"
    doc = {
        "store": {"path": str(tmp_path / "handover.db")},
        "delivery": {"poll_seconds": 0.05, "backoff_base_seconds": 0.01,
                     "backoff_cap_seconds": 0.1},
        "adapters": {
            # Short, so that a test can wait it out; navigations come back well within it.
            "web": {"type": "web", "leave_grace_seconds": 4, "tenants": {
                TENANT: {"origins": [page_origin]},
                "tokens": {"origins": [page_origin], "theme_class": "fixture-theme",
                           "theme_stylesheet": f"{page_origin}/fixture-tokens.css"},
            }},
            "gem": {"type": "demo_bot"},
            "desk": {"type": "demo_desk"},
        },
        "tenants": {
            name: {"name": "Gemeente Voorbeeld", "channels": ["web"], "bot": "gem",
                   "desk": "desk", "languages": ["nl", "en"],
                   "handover": {"phone": "14 0000", "queue_fallback": "bot"},
                   "survey": {"enabled": True}}
            for name in (TENANT, "tokens")
        },
    }
    daemon = Daemon(parse_config(doc, base_dir=tmp_path, env=os.environ))
    runner, port = await _site(daemon.build_app())
    proxy = CuttableProxy(port)
    await proxy.start()
    holder["widget"] = f"http://127.0.0.1:{proxy.port}/web/widget.js"
    system = System(daemon, proxy, page_origin, f"http://127.0.0.1:{port}")
    try:
        yield system
    finally:
        await system.http.close()
        await proxy.close()
        await runner.cleanup()
        await page_runner.cleanup()


@pytest_asyncio.fixture(scope="session", loop_scope=LOOP)
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def settle(page: Any) -> None:
    """Wait until nothing in the page moves: every animation finished, a frame painted.
    A message still fading in is neither its final look nor its final contrast."""
    # Finished ones that fill forwards stay listed, and endless ones (a third-party
    # spinner) never finish: only those still on their way to an end are waited for.
    await page.wait_for_function("""document.getAnimations().filter(
        a => a.playState === 'running'
             && a.effect && a.effect.getComputedTiming().endTime !== Infinity).length === 0""",
                                 timeout=8000)
    await page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


async def screenshot(page: Any, name: str) -> None:
    """A screenshot in tests/browser/screenshots/, taken once the page has settled."""
    await settle(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def assert_accessible(page: Any, axe_source: str, state: str,
                            selector: str = ".hw-root") -> None:
    """axe-core on the widget: no serious or critical WCAG 2.1 A/AA violation, and no
    colour contrast that axe could not decide ("incomplete"): white text on a white
    button is reported that way, not as a violation."""
    await settle(page)
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=axe_source)
    result = await page.evaluate("""async (selector) => {
        const r = await axe.run(document.querySelector(selector), {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
        });
        const nodes = v => v.nodes.map(n => ({html: n.html,
            why: [...n.any, ...n.all, ...n.none].map(c => c.message)})).slice(0, 5);
        return {
            violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                                nodes: nodes(v)})),
            undecided: r.incomplete.filter(v => v.id === 'color-contrast')
                                   .map(v => ({id: v.id, nodes: nodes(v)})),
        };
    }""", selector)
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], f"axe in state {state}: {bad}"
    assert result["undecided"] == [], f"axe could not decide contrast in state {state}: {result['undecided']}"


# --- what screen readers are told ---------------------------------------------------------

# Added to a page before its scripts run: records every text put into a live region (an
# element with aria-live other than "off", or role log/status/alert) while it is live and
# not hidden, in window.__said. A screen reader announces exactly such additions.
RECORD_ANNOUNCEMENTS = """
(() => {
  window.__said = [];
  const LIVE_ROLES = {log: 1, status: 1, alert: 1};
  function liveRegion(node) {
    for (let el = node.nodeType === 1 ? node : node.parentElement; el; el = el.parentElement) {
      if (el.hasAttribute('hidden')) return null;
      const live = el.getAttribute('aria-live');
      if (live) return live === 'off' ? null : el;
      if (LIVE_ROLES[el.getAttribute('role')]) return el;
    }
    return null;
  }
  function say(node) {
    const text = (node.textContent || '').trim();
    const region = text && liveRegion(node);
    if (region) window.__said.push(text);
  }
  new MutationObserver(records => {
    for (const r of records) {
      if (r.type === 'characterData') say(r.target);
      else r.addedNodes.forEach(say);
    }
  }).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


async def announcements(page: Any) -> list[str]:
    """What live regions said so far (RECORD_ANNOUNCEMENTS must be in the page)."""
    said: list[str] = await page.evaluate("window.__said || []")
    return said
