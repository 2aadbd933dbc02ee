"""Who can take another chat: an agent's away status and per-agent chat limit, and the
availability the desk reports to the core from them.

- **Away.** An agent who sets "Afwezig" has a record `away:<agent id>` in the console's
  state (no record: available). It outlives the page, so an agent who was away when the
  browser closed is still away when it opens again, on any instance, and sees so at
  once. Away agents cannot pick up or be given a chat, and do not count as available;
  the chats they hold stay theirs.
- **Limit.** An agent holds at most `max_chats` chats (the agent's own, else the
  console's). The journal's held threads are counted, except those the core has moved
  on from (the citizen left, a timeout): the journal may not have heard yet, and a
  finished chat must not keep an agent from the next one.

Two pick-ups of one agent racing on two instances can each see room for one more: the
limit is therefore checked again after the claim landed, and a claim that made the
agent exceed it is undone (`over_limit`). The losers get 409 and may retry; no
interleaving leaves an agent above the limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from adapters.console.journal import Journal, ThreadRow
from adapters.console.options import Agent, ConsoleOptions
from adapters.console.presence import Presence
from adapters.console.view import effective_status
from handover.sdk.http import ApiError
from handover.sdk.model import Conversation
from handover.sdk.state import AdapterState

__all__ = ["Workload"]

_AWAY = "away:"

GetConversation = Callable[[str], Awaitable[Conversation | None]]


class Workload:
    """Away status and chat limits of the console's agents (see the module docstring)."""

    def __init__(self, state: AdapterState, journal: Journal, presence: Presence,
                 options: ConsoleOptions, get_conversation: GetConversation) -> None:
        self.state = state
        self.journal = journal
        self.presence = presence
        self.options = options
        self.get_conversation = get_conversation
        self._agents = {a.id: a for a in options.agents}

    # --- away -----------------------------------------------------------------------

    async def is_away(self, agent_id: str) -> bool:
        return await self.state.get(_AWAY + agent_id) is not None

    async def set_away(self, agent_id: str, away: bool, at: datetime) -> None:
        if away:
            if not await self.is_away(agent_id):
                await self.state.put(_AWAY + agent_id, {"since": at.isoformat()})
        else:
            await self.state.delete(_AWAY + agent_id)

    # --- limits ---------------------------------------------------------------------

    async def held(self, agent_id: str) -> list[ThreadRow]:
        """The chats the agent holds that the core still has live."""
        return [row for row in await self.journal.held_by(agent_id) if await self._live(row)]

    def limit(self, agent: Agent) -> int:
        return self.options.chat_limit(agent)

    async def admit(self, agent: Agent, thread_id: str, *, action: str) -> None:
        """Refuse (409) a new chat for an away agent or one at the limit; `thread_id`
        (the chat at hand) does not count against the agent when it already holds it."""
        if await self.is_away(agent.id):
            raise ApiError(409, "away", f"{agent.name} is away: no new chats ({action})")
        held = [r for r in await self.held(agent.id) if r.thread_id != thread_id]
        if len(held) >= self.limit(agent):
            raise ApiError(409, "at_limit", f"{agent.name} holds {len(held)} chats already "
                                            f"(at most {self.limit(agent)} at once)")

    async def over_limit(self, agent: Agent) -> bool:
        """After a claim: whether the agent now holds more than allowed (see above)."""
        return len(await self.held(agent.id)) > self.limit(agent)

    async def has_room(self, agent: Agent) -> bool:
        return not await self.is_away(agent.id) \
            and len(await self.held(agent.id)) < self.limit(agent)

    # --- availability -----------------------------------------------------------------

    async def ready_agents(self, tenant: str, *, first_only: bool = False) -> list[Agent]:
        """The agents signed in (on any instance) who see `tenant`, are not away and
        have room for another chat; with `first_only`, the first one found (enough for
        the availability check). The journal is read once for all of them, and the core
        is asked about an agent's chats only when the journal alone puts the agent at
        the limit (a chat the core ended can only make room)."""
        online = self.known(sorted(await self.presence.agents(tenant)))
        if not online:
            return []
        rows: dict[str, list[ThreadRow]] = {a.id: [] for a in online}
        for row in await self.journal.held_by(None):
            if row.agent_id in rows:
                rows[row.agent_id].append(row)
        out = []
        for agent in online:
            held = rows[agent.id]
            if len(held) >= self.limit(agent):
                held = [r for r in held if await self._live(r)]
            if len(held) < self.limit(agent) and not await self.is_away(agent.id):
                out.append(agent)
                if first_only:
                    break
        return out

    async def _live(self, row: ThreadRow) -> bool:
        conv = await self.get_conversation(row.conversation_id)
        return effective_status(row, conv) is row.status

    async def status(self, agent: Agent) -> dict[str, Any]:
        """What the agent's page shows of its own workload."""
        return {"away": await self.is_away(agent.id), "max_chats": self.limit(agent),
                "held": len(await self.held(agent.id))}

    def known(self, agent_ids: Iterable[str]) -> list[Agent]:
        return [self._agents[a] for a in agent_ids if a in self._agents]
