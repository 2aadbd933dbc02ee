"""The console's `[adapters.<name>]` section: agents with their tokens, outcomes.

    [adapters.console]
    type = "console"
    availability = "agents_online"
    outcomes = ["resolved", "unresolved", "referred", "no_response"]
    origins = ["https://kcc.gemeente.example"]
    agents = [
      { id = "sanne", name = "Sanne", token = "${CONSOLE_TOKEN_SANNE}" },
      { id = "ahmed", name = "Ahmed", token = ["${TOKEN_NEW}", "${TOKEN_OLD}"],
        tenants = ["utrecht"] },
    ]

Tokens reach this parser already resolved from the environment (the core refuses a
literal token before any adapter sees its section), so only their shape is checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handover.sdk.contracts import ConfigIssues
from handover.sdk.options import Issues, Table, index, type_name
from handover.sdk.origins import origin_problem

__all__ = ["DEFAULT_OUTCOMES", "Agent", "ConsoleOptions", "parse_options"]

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

    def __repr__(self) -> str:  # never print a token
        return f"Agent(id={self.id!r}, name={self.name!r}, tenants={self.tenants!r})"


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
    )


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
            agents.append(Agent(agent_id, name, tokens, tenants))
    return tuple(agents)
