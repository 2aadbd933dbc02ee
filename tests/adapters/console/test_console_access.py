"""Who may use the console, what each agent sees, bad input, and the page itself."""

from __future__ import annotations

import re
from pathlib import Path

from tests.adapters.console.support import OTHER_TENANT, TOKENS, console_daemon


async def test_missing_or_wrong_token_is_refused(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        resp = await c.client.get("/desk/api/threads")
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        assert (await resp.json())["error"] == "unauthorized"

        resp = await c.client.get("/desk/api/threads", headers={"Authorization": "Basic abc"})
        assert resp.status == 401

        wrong = {"Authorization": "Bearer " + TOKENS["sanne"][:-1] + "X"}
        resp = await c.client.get("/desk/api/threads", headers=wrong)
        assert resp.status == 403 and (await resp.json())["error"] == "forbidden"

        # A token is never accepted from the URL.
        resp = await c.client.get(f"/desk/api/threads?token={TOKENS['sanne']}")
        assert resp.status == 401


async def test_both_tokens_of_a_rotation_sign_in_as_the_same_agent(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        for token in (TOKENS["ahmed"], TOKENS["ahmed_old"]):
            resp = await c.client.get("/desk/api/me", headers={"Authorization": f"Bearer {token}"})
            assert resp.status == 200
            me = await resp.json()
            assert me["agent"] == {"id": "ahmed", "name": "Ahmed"}
            assert me["outcomes"] == ["resolved", "unresolved", "referred", "no_response"]


async def test_an_agent_narrowed_to_another_tenant_does_not_see_the_thread(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        sanne = await c.live("sanne")
        piet = await c.live("piet")
        _, me = await c.get("me", agent="piet")
        assert me["tenants"] == [OTHER_TENANT]
        _, me = await c.get("me", agent="sanne")
        assert sorted(me["tenants"]) == sorted([OTHER_TENANT, "test"])

        _, thread = await c.handover(sanne)
        status, data = await c.get("threads", agent="piet")
        assert status == 200 and data["threads"] == []
        status, body = await c.get(f"threads/{thread}", agent="piet")
        assert (status, body["error"]) == (404, "unknown_thread")
        status, body = await c.post(f"threads/{thread}/pickup", agent="piet")
        assert status == 404
        # Nothing about the other tenant's thread was pushed to Piet's page.
        assert [e for e in piet.events if e["type"] != "ready"] == []

        # A thread of Piet's own tenant does reach him.
        _, other = await c.handover(piet, key="inwoner-2", tenant=OTHER_TENANT)
        status, data = await c.get("threads", agent="piet")
        assert [t["thread_id"] for t in data["threads"]] == [other]


async def test_bad_input_gets_a_clear_error(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        live = await c.live("sanne")
        _, thread = await c.handover(live)
        status, body = await c.post(f"threads/{thread}/pickup")
        assert status == 200

        cases = [
            ({"text": "zonder id"}, "missing_field"),
            ({"message_id": "m1"}, "missing_field"),
            ({"message_id": "m1", "text": "   "}, "invalid_field"),
            ({"message_id": "m1", "text": "x" * 4001}, "invalid_field"),
            ({"message_id": "m1", "text": "hoi", "html": "<b>"}, "unknown_field"),
            ([1, 2], "invalid_json"),
        ]
        for body_in, error in cases:
            status, body = await c.post(f"threads/{thread}/messages", body_in)
            assert (status, body["error"]) == (400, error), body_in
        resp = await c.client.post(f"/desk/api/threads/{thread}/messages", data=b"{not json",
                                   headers={"Authorization": f"Bearer {TOKENS['sanne']}",
                                            "Content-Type": "application/json"})
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"
        status, body = await c.post(f"threads/{thread}/typing", {"on": "yes"})
        assert (status, body["error"]) == (400, "invalid_field")
        status, body = await c.post("threads/nope-1/pickup")
        assert (status, body["error"]) == (404, "unknown_thread")
        # Nothing of the refused input reached the citizen.
        _, detail = await c.get(f"threads/{thread}")
        assert [e for e in detail["transcript"] if e["party"] == "agent"] == []


async def test_page_is_served_with_csp_and_nosniff(tmp_path: Path) -> None:
    async with console_daemon(tmp_path) as c:
        resp = await c.client.get("/desk/")
        assert resp.status == 200
        assert resp.content_type == "text/html"
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert f"ws://{resp.url.host}:{resp.url.port}" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        html = await resp.text()
        for element in ('id="token"', 'id="list-waiting"', 'id="transcript"', 'id="pickup"',
                        'id="reply-text"', 'id="close-outcome"', 'aria-live="polite"'):
            assert element in html
        # The page itself asks for no token and carries no inline script.
        assert "<script>" not in html

        assert '<script type="module" src="console.js">' in html
        # Every script the page loads or imports is served, as JavaScript.
        wanted = set(re.findall(r'<script type="module" src="([a-z]+\.js)">', html))
        served: set[str] = set()
        while wanted - served:
            path = sorted(wanted - served)[0]
            resp = await c.client.get(f"/desk/{path}")
            assert (resp.status, resp.content_type) == (200, "text/javascript"), path
            served.add(path)
            wanted |= set(re.findall(r'from "\./([a-z]+\.js)"', await resp.text()))
        assert {"console.js", "hooks.js", "http.js", "canned.js", "idle.js"} <= served
        for path, mime in (("console.js", "text/javascript"), ("render.js", "text/javascript"),
                           ("console.css", "text/css")):
            resp = await c.client.get(f"/desk/{path}")
            assert resp.status == 200 and resp.content_type == mime
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
