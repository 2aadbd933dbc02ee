"""The console's `[adapters.<name>]` section: agents with their tokens, outcomes.

    [adapters.console]
    type = "console"
    availability = "agents_online"
    outcomes = ["resolved", "unresolved", "referred", "no_response"]
    origins = ["https://kcc.gemeente.example"]
    max_chats = 3
    reoffer_after_seconds = "3m"
    idle_signout_seconds = "30m"
    idle_warning_seconds = "1m"
    summary_tenants = ["utrecht"]
    teams = [{ id = "vergunningen", name = "Vergunningen" }]
    agents = [
      { id = "sanne", name = "Sanne", token = "${CONSOLE_TOKEN_SANNE}" },
      { id = "ahmed", name = "Ahmed", token = ["${TOKEN_NEW}", "${TOKEN_OLD}"],
        tenants = ["utrecht"], max_chats = 5 },
    ]

    [adapters.console.tenants.utrecht.canned]
    nl = [{ shortcut = "tijden", title = "Openingstijden", text = "..." }]

Tokens reach this parser already resolved from the environment (the core refuses a
literal token before any adapter sees its section), so only their shape is checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.console.canned import CannedResponse, read_canned
from handover.sdk.contracts import ConfigIssues
from handover.sdk.options import Issues, Table, index, tenant_tables, type_name
from handover.sdk.origins import origin_problem

__all__ = ["DEFAULT_OUTCOMES", "Agent", "ConsoleOptions", "Team", "parse_options"]

DEFAULT_OUTCOMES = ("resolved", "unresolved", "referred", "no_response")
#: Agent ids and outcomes are shown in logs and travel to the bot: short, plain words.
_WORD = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
#: A token shorter than this is guessable; refuse it rather than protect nothing.
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True, slots=True)
class Agent:
    """A person who may sign in to the console."""

    id: str
    name: str
    #: Accepted bearer tokens: one, or two while a token is rotated.
    tokens: tuple[str, ...]
    #: The tenants this agent sees; empty means every tenant whose desk is this console.
    tenants: tuple[str, ...] = ()
    #: Chats this agent holds at most at once; None: the console's `max_chats`.
    max_chats: int | None = None

    def __repr__(self) -> str:  # never print a token
        return f"Agent(id={self.id!r}, name={self.name!r}, tenants={self.tenants!r})"


@dataclass(frozen=True, slots=True)
class Team:
    """A queue an agent can transfer a chat to: the chat waits again, marked for it."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ConsoleOptions:
    agents: tuple[Agent, ...] = ()
    #: Deprecated and ignored: the console's own SQLite journal before its threads moved
    #: into the daemon's store. Still accepted so that old configurations load; the
    #: console warns at start.
    state_path: Path | None = None
    #: "agents_online": available only while an agent of the tenant has the page open.
    #: "always": queue regardless (the citizen waits until someone signs in).
    availability: str = "agents_online"
    outcomes: tuple[str, ...] = DEFAULT_OUTCOMES
    #: Origins besides the console's own that may open the live socket (the page served
    #: under another host name by a proxy); empty: same origin only.
    origins: frozenset[str] = frozenset()
    #: Chats one agent holds at once, unless the agent's own `max_chats` says otherwise.
    max_chats: int = 3
    #: Tenant -> language -> canned responses (canned.py).
    canned: Mapping[str, Mapping[str, tuple[CannedResponse, ...]]] = field(
        default_factory=dict)
    teams: tuple[Team, ...] = ()
    #: A held chat whose citizen waited this long for an answer is offered back to the
    #: queue (reoffer.py); 0: never.
    reoffer_after_seconds: float = 180.0
    #: A page without the agent's activity this long signs out; 0: never.
    idle_signout_seconds: float = 1800.0
    #: The page warns this long before the idle sign-out.
    idle_warning_seconds: float = 60.0
    #: Tenants whose agents are offered an optional summary when closing a chat: those
    #: that register it as the finished contact's content (`[tenants.<id>.registration]
    #: content = "summary"`); elsewhere it would go nowhere, so it is not asked.
    summary_tenants: frozenset[str] = frozenset()

    def chat_limit(self, agent: Agent) -> int:
        return agent.max_chats if agent.max_chats is not None else self.max_chats


def parse_options(section: Mapping[str, Any], path: str) -> ConsoleOptions:
    issues = Issues()
    table = Table(section, path, issues)
    state_path = table.optional_string("state_path")
    availability = table.choice("availability", "agents_online", ("agents_online", "always"))
    outcomes = table.strings("outcomes", DEFAULT_OUTCOMES)
    for i, outcome in enumerate(outcomes):
        if not _WORD.match(outcome):
            issues.add(index(table.at("outcomes"), i),
                       "use lowercase letters, digits, '_', '.' or '-' (at most 40)")
    if table.has("outcomes") and not outcomes:
        issues.add(table.at("outcomes"), "give at least one outcome")
    origins = []
    for i, origin in enumerate(table.strings("origins")):
        problem = origin_problem(origin)
        if problem:
            issues.add(index(table.at("origins"), i), problem)
        origins.append(origin)
    max_chats = table.integer("max_chats", 3, minimum=1, maximum=50)
    reoffer = table.duration("reoffer_after_seconds", 180.0, allow_zero=True)
    idle = table.duration("idle_signout_seconds", 1800.0, allow_zero=True)
    warning = table.duration("idle_warning_seconds", 60.0)
    if idle and warning >= idle:
        issues.add(table.at("idle_warning_seconds"),
                   "must be shorter than idle_signout_seconds (the warning comes before it)")
    summary_tenants = frozenset(table.strings("summary_tenants"))
    teams = _teams(table, issues)
    canned = tenant_tables(table, read_canned)
    agents = _agents(table, issues)
    table.finish()
    if issues:
        raise ConfigIssues(issues.items)
    return ConsoleOptions(
        agents=agents,
        state_path=Path(state_path) if state_path else None,
        availability=availability,
        outcomes=tuple(dict.fromkeys(outcomes)),
        origins=frozenset(origins),
        max_chats=max_chats,
        canned=canned,
        teams=teams,
        reoffer_after_seconds=reoffer,
        idle_signout_seconds=idle,
        idle_warning_seconds=warning,
        summary_tenants=summary_tenants,
    )


def _teams(table: Table, issues: Issues) -> tuple[Team, ...]:
    at = table.at("teams")
    raw = table.data.get("teams", [])
    table.known.append("teams")
    if not isinstance(raw, list):
        issues.add(at, f"expected an array of tables, got {type_name(raw)}")
        return ()
    teams: list[Team] = []
    for i, item in enumerate(raw):
        entry = Table(item, index(at, i), issues)
        team_id = entry.required_string("id")
        name = entry.required_string("name", "the team's name as agents see it")
        entry.finish()
        if team_id is not None and not _WORD.match(team_id):
            issues.add(entry.at("id"),
                       "use lowercase letters, digits, '_', '.' or '-' (at most 40)")
        elif team_id is not None and any(t.id == team_id for t in teams):
            issues.add(entry.at("id"), f"team id {team_id!r} is given twice")
        elif team_id and name:
            teams.append(Team(team_id, name[:80]))
    return tuple(teams)


def _agents(table: Table, issues: Issues) -> tuple[Agent, ...]:
    at = table.at("agents")
    present, raw = table.has("agents"), table.data.get("agents")
    table.known.append("agents")
    if not present:
        issues.add(at, 'required: a list like [{ id = "sanne", name = "Sanne", '
                       'token = "${CONSOLE_TOKEN_SANNE}" }]')
        return ()
    if not isinstance(raw, list) or not raw:
        issues.add(at, f"expected a non-empty array of tables, got {type_name(raw)}"
                   if not isinstance(raw, list) else "give at least one agent")
        return ()
    agents: list[Agent] = []
    ids: set[str] = set()
    owners: dict[str, str] = {}
    for i, item in enumerate(raw):
        entry = Table(item, index(at, i), issues)
        agent_id = entry.required_string("id")
        name = entry.required_string("name", "the name the citizen sees")
        if not entry.has("token"):
            entry.known.append("token")
            issues.add(entry.at("token"), 'required: "${CONSOLE_TOKEN_...}"')
        tokens = entry.strings("token", allow_single=True)
        tenants = entry.strings("tenants")
        limit = entry.integer("max_chats", 0, minimum=1, maximum=50) \
            if entry.has("max_chats") else None
        entry.finish()
        if agent_id is not None:
            if not _WORD.match(agent_id):
                issues.add(entry.at("id"),
                           "use lowercase letters, digits, '_', '.' or '-' (at most 40)")
            elif agent_id in ids:
                issues.add(entry.at("id"), f"agent id {agent_id!r} is given twice")
            ids.add(agent_id)
        if name is not None and len(name) > 80:
            issues.add(entry.at("name"), "at most 80 characters")
        for t, token in enumerate(tokens):
            token_at = index(entry.at("token"), t) if len(tokens) > 1 else entry.at("token")
            if len(token) < MIN_TOKEN_LENGTH:
                issues.add(token_at, f"too short: use at least {MIN_TOKEN_LENGTH} characters")
            elif token in owners:
                # One token for two agents would make every action's author ambiguous.
                issues.add(token_at, f"the same token as agent {owners[token]!r}")
            owners.setdefault(token, agent_id or str(i))
        if agent_id and name and tokens:
            agents.append(Agent(agent_id, name, tokens, tenants, limit or None))
    return tuple(agents)
