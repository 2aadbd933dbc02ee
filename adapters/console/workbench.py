"""The agent's tools beyond answering: canned responses, internal notes, transfer to a
colleague or a team, and the away status (routes under `/<instance>/api/`).

    GET  /api/me/workspace                       -> 200 {"away", "max_chats", "held",
                                                         "idle_signout_seconds",
                                                         "idle_warning_seconds", "teams"}
    POST /api/me/status     {"away": bool}        -> 200 (as /api/me/workspace)
    GET  /api/threads/{id}/canned                 -> 200 {"canned": [{"shortcut", "title", "text"}]}
    POST /api/threads/{id}/notes  {"note_id", "text"}         -> 201 {"outcome"}
    GET  /api/threads/{id}/transfer               -> 200 {"agents": [...], "teams": [...]}
    POST /api/threads/{id}/transfer {"to", "note"?}            -> 200 {"thread"}

`to` is `"agent:<id>"` (a colleague who is signed in, not away and has room: the chat
is theirs at once, and their page is alerted), `"queue"` or `"team:<id>"` (the chat
waits again, for that team). The citizen hears at most the new agent's name (the core's
`AgentTransferred`: "Ahmed helpt u verder."), never the note, which is an internal note.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.console.canned import fill
from adapters.console.journal import ThreadRow
from adapters.console.notes import InternalNote
from adapters.console.options import Agent
from adapters.console.routes import _ACCEPTED, AGENT_KEY, TOOL_ROUTE, AgentApi, _json
from adapters.console.view import erased
from handover.sdk import events as ev
from handover.sdk.http import ApiError, Fields, read_json

__all__ = ["Workbench"]

MAX_NOTE_LENGTH = 4000


class Workbench:
    """The tools' handlers, on top of the console's `AgentApi` (its thread lookup,
    holder check, ingest and live announcements)."""

    def __init__(self, api: AgentApi) -> None:
        self.api = api
        self.options = api.options
        self.journal = api.journal
        self.workload = api.workload
        self.notes = api.internal_notes
        self.agents = {a.id: a for a in api.options.agents}

    def routes(self) -> list[web.RouteDef]:
        p = TOOL_ROUTE
        return [
            web.get("/api/me/workspace", self.workspace, name=p + "workspace"),
            web.post("/api/me/status", self.status, name=p + "status"),
            web.get("/api/threads/{thread_id}/canned", self.canned, name=p + "canned"),
            web.post("/api/threads/{thread_id}/notes", self.note, name=p + "notes"),
            web.get("/api/threads/{thread_id}/transfer", self.targets, name=p + "targets"),
            web.post("/api/threads/{thread_id}/transfer", self.transfer, name=p + "transfer"),
        ]

    # --- the agent ------------------------------------------------------------------

    async def workspace(self, request: web.Request) -> web.Response:
        return _json(await self._workspace(request[AGENT_KEY]))

    async def status(self, request: web.Request) -> web.Response:
        agent = request[AGENT_KEY]
        away = Fields.of(await read_json(request), ("away",)).boolean("away")
        await self.workload.set_away(agent.id, away, self.api.ctx.clock.now())
        self.api.ctx.log.info("console.agent_status", agent_id=agent.id, away=away)
        self.api._count("status", "away" if away else "available")
        return _json(await self._workspace(agent))

    async def _workspace(self, agent: Agent) -> dict[str, Any]:
        return {
            **await self.workload.status(agent),
            "idle_signout_seconds": self.options.idle_signout_seconds,
            "idle_warning_seconds": self.options.idle_warning_seconds,
            "teams": [{"id": t.id, "name": t.name} for t in self.options.teams],
        }

    # --- canned responses and notes -------------------------------------------------

    async def canned(self, request: web.Request) -> web.Response:
        agent = request[AGENT_KEY]
        row = await self.api._row(request)
        answers = self.options.canned.get(row.tenant, {}).get(row.language, ())
        values = {"agent": agent.name, "municipality": self.api.ctx.tenant_name(row.tenant)}
        return _json({"canned": [
            {"shortcut": a.shortcut, "title": a.title, "text": fill(a, values)} for a in answers
        ]})

    async def note(self, request: web.Request) -> web.Response:
        agent = request[AGENT_KEY]
        row = await self.api._row(request)
        fields = Fields.of(await read_json(request), ("note_id", "text"))
        note_id = fields.ident("note_id", required=True) or ""
        text = (fields.string("text", required=True, max_length=MAX_NOTE_LENGTH) or "").strip()
        if not text:
            raise ApiError(400, "invalid_field", "text: write the note first")
        if ":" in note_id:
            raise ApiError(400, "invalid_field", "note_id: no ':' allowed")
        conv = await self.api.ctx.get_conversation(row.conversation_id)
        if erased(conv):
            raise ApiError(409, "thread_closed", "the conversation's data is erased")
        stored = await self.notes.add(row, InternalNote(
            note_id=note_id, text=text, at=self.api.ctx.clock.now(), agent_id=agent.id,
            agent_name=agent.name,
        ))
        self.api._count("note", "applied" if stored else "duplicate")
        if stored:
            await self.api.announce(row.tenant, {"type": "changed", "thread_id": row.thread_id})
        return _json({"outcome": "applied" if stored else "duplicate"}, status=201)

    # --- transfer -------------------------------------------------------------------

    async def targets(self, request: web.Request) -> web.Response:
        """Whom the agent can hand this chat to now: colleagues who see its tenant, are
        signed in, not away and have room; and the teams."""
        agent = request[AGENT_KEY]
        row = await self.api._row(request)
        ready = [a for a in await self.workload.ready_agents(row.tenant) if a.id != agent.id]
        return _json({
            "agents": [{"id": a.id, "name": a.name} for a in ready],
            "teams": [{"id": t.id, "name": t.name} for t in self.options.teams],
        })

    async def transfer(self, request: web.Request) -> web.Response:
        agent = request[AGENT_KEY]
        row = await self.api._row(request)
        fields = Fields.of(await read_json(request), ("to", "note"))
        to = fields.require("to")
        note = (fields.string("note", max_length=MAX_NOTE_LENGTH) or "").strip()
        conv = await self.api._held(row, agent, "transfer")
        target: Agent | None = None
        team: str | None = None
        if to.startswith("agent:"):
            target = await self._colleague(row, agent, to.removeprefix("agent:"))
            moved = await self.journal.hand_over(row.thread_id, agent.id, agent.name,
                                                 target.id, target.name,
                                                 self.api.ctx.clock.now())
            if moved is not None and await self.workload.over_limit(target):
                # The colleague picked up another chat meanwhile: give it back.
                await self.journal.hand_over(row.thread_id, target.id, target.name, agent.id,
                                             agent.name, self.api.ctx.clock.now())
                self.api._count("transfer", "refused")
                raise ApiError(409, "at_limit", f"{target.name} has no room for another chat")
            told = f"Overgedragen aan {target.name}."
        elif to == "queue" or to.startswith("team:"):
            team = to.removeprefix("team:") if to != "queue" else None
            names = {t.id: t.name for t in self.options.teams}
            if team is not None and team not in names:
                raise ApiError(400, "invalid_field", f"to: no team {team!r}")
            moved = await self.journal.requeue(row.thread_id, agent.id, agent.name,
                                               kind="queue", team=team)
            told = f"Teruggezet in de wachtrij{f' voor team {names[team]}' if team else ''}."
        else:
            raise ApiError(400, "invalid_field", 'to: "agent:<id>", "queue" or "team:<id>"')
        if moved is None:
            self.api._count("transfer", "refused")
            raise ApiError(409, "not_yours", "you no longer hold this chat")
        result = await self.api._ingest(ev.AgentTransferred(
            conversation_id=conv.id, source=self.api.source,
            source_id=f"transfer:{row.thread_id}:{moved.handoffs}", thread=row.thread_id,
            agent_name=target.name if target else None,
            # The colleague holds it now: the contact is registered with them.
            agent_id=target.id if target else None,
        ))
        if result.outcome not in _ACCEPTED:
            await self.api._ended(row, "transfer", result)
        await self.notes.add(moved, InternalNote(
            note_id=f"handoff-{moved.handoffs}", text=f"{told}\n{note}".strip(),
            at=self.api.ctx.clock.now(), agent_id=agent.id, agent_name=agent.name,
            kind="transfer" if target else "queue",
        ))
        self.api._count("transfer", result.outcome.value)
        self.api.ctx.log.info("console.transferred", thread_id=row.thread_id,
                              agent_id=agent.id, to_agent=target.id if target else None,
                              team=team)
        await self.api.announce(row.tenant, {
            "type": "transferred", "thread_id": row.thread_id,
            "to_agent": target.id if target else None, "team": team, "from": agent.name,
        })
        return _json({"thread": await self.api._publish_thread(row.thread_id)})

    async def _colleague(self, row: ThreadRow, agent: Agent, colleague_id: str) -> Agent:
        target = self.agents.get(colleague_id)
        if target is None or row.tenant not in self.api.visible(target):
            raise ApiError(400, "invalid_field", "to: no colleague of this municipality")
        if target.id == agent.id:
            raise ApiError(400, "invalid_field", "to: you hold this chat already")
        if target.id not in await self.workload.presence.agents(row.tenant):
            raise ApiError(409, "not_online", f"{target.name} is not signed in")
        await self.workload.admit(target, row.thread_id, action="transfer")
        return target
