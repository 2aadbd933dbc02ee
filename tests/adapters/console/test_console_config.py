"""The console's configuration: agents with tokens from the environment only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.console.adapter import ConsoleDesk
from adapters.console.options import ConsoleOptions
from handover.config.load import parse_config
from handover.sdk.contracts import ConfigIssues
from tests.harness import BASE, merge

ENV = {"T_SANNE": "sanne-0123456789abcdef", "T_NEW": "new-0123456789abcdefgh",
       "T_OLD": "old-0123456789abcdefgh"}


def load(tmp_path: Path, desk: dict[str, Any], env: dict[str, str] | None = None) -> ConsoleOptions:
    doc = merge(BASE, {"store": {"path": str(tmp_path / "h.db")},
                       "adapters": {"desk": {"type": "console", **desk}}})
    config = parse_config(doc, base_dir=tmp_path, env=ENV if env is None else env)
    options = config.adapters["desk"].options
    assert isinstance(options, ConsoleOptions)
    return options


def issues(tmp_path: Path, desk: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigIssues) as caught:
        load(tmp_path, desk, env)
    return {i.path: i.message for i in caught.value.issues}


def test_agents_with_tokens_from_the_environment_and_a_rotation(tmp_path: Path) -> None:
    options = load(tmp_path, {
        "state_path": str(tmp_path / "console.db"),
        "outcomes": ["opgelost", "doorverwezen"],
        "agents": [
            {"id": "sanne", "name": "Sanne", "token": "${T_SANNE}"},
            {"id": "ahmed", "name": "Ahmed", "token": ["${T_NEW}", "${T_OLD}"], "tenants": ["test"]},
        ],
    })
    sanne, ahmed = options.agents
    assert (sanne.id, sanne.name, sanne.tokens, sanne.tenants) == ("sanne", "Sanne", (ENV["T_SANNE"],), ())
    assert ahmed.tokens == (ENV["T_NEW"], ENV["T_OLD"]) and ahmed.tenants == ("test",)
    assert options.outcomes == ("opgelost", "doorverwezen")
    assert options.availability == "agents_online"
    # A token never shows in a repr (tracebacks, debug logs).
    assert ENV["T_SANNE"] not in repr(options)


def test_a_literal_token_is_refused_without_echoing_it(tmp_path: Path) -> None:
    found = issues(tmp_path, {"agents": [{"id": "sanne", "name": "Sanne", "token": "hunter2hunter2hunter2"}]})
    assert "environment" in found["adapters.desk.agents[0].token"]
    assert all("hunter2" not in m for m in found.values())


def test_every_mistake_is_reported_with_its_path(tmp_path: Path) -> None:
    found = issues(tmp_path, {
        "availability": "sometimes",
        "outcomes": ["Opgelost!"],
        "colour": "blue",
        "agents": [
            {"id": "sanne", "name": "Sanne", "token": "${T_SANNE}"},
            {"id": "sanne", "name": "Sanne 2", "token": "${T_NEW}"},
            {"id": "Bad Id", "token": "${SHORT}"},
            {"id": "kees", "name": "Kees", "token": "${T_SANNE}", "team": "x"},
        ],
    }, env={**ENV, "SHORT": "abc"})
    assert "expected one of" in found["adapters.desk.availability"]
    assert "adapters.desk.outcomes[0]" in found
    assert "unknown key" in found["adapters.desk.colour"]
    assert "given twice" in found["adapters.desk.agents[1].id"]
    assert "lowercase" in found["adapters.desk.agents[2].id"]
    assert found["adapters.desk.agents[2].name"].startswith("required")
    assert "too short" in found["adapters.desk.agents[2].token"]
    assert "same token as agent 'sanne'" in found["adapters.desk.agents[3].token"]
    assert "unknown key" in found["adapters.desk.agents[3].team"]
    assert all(ENV["T_SANNE"] not in m and "abc" not in m.split("'") for m in found.values())


def test_agents_are_required(tmp_path: Path) -> None:
    assert "required" in issues(tmp_path, {})["adapters.desk.agents"]
    assert "at least one" in issues(tmp_path, {"agents": []})["adapters.desk.agents"]
    found = issues(tmp_path, {"agents": [{"id": "sanne", "name": "Sanne"}]})
    assert found["adapters.desk.agents[0].token"].startswith("required")


def test_the_entry_point_names_the_console() -> None:
    from handover.daemon.registry import adapter_class

    assert adapter_class("console") is ConsoleDesk


AGENTS = [{"id": "sanne", "name": "Sanne", "token": "${T_SANNE}"}]


def test_canned_responses_limits_teams_and_timers_are_read(tmp_path: Path) -> None:
    options = load(tmp_path, {
        "agents": [{"id": "sanne", "name": "Sanne", "token": "${T_SANNE}", "max_chats": 5}],
        "max_chats": 2, "reoffer_after_seconds": "2m", "idle_signout_seconds": "20m",
        "idle_warning_seconds": 30, "teams": [{"id": "afval", "name": "Afval"}],
        "tenants": {"test": {"canned": {"nl": [
            {"shortcut": "tijden", "title": "Openingstijden", "text": "Open om 9. {agent}"},
        ]}}},
    })
    [answer] = options.canned["test"]["nl"]
    assert (answer.shortcut, answer.title) == ("tijden", "Openingstijden")
    assert options.max_chats == 2 and options.chat_limit(options.agents[0]) == 5
    assert (options.reoffer_after_seconds, options.idle_signout_seconds,
            options.idle_warning_seconds) == (120.0, 1200.0, 30.0)
    assert [(t.id, t.name) for t in options.teams] == [("afval", "Afval")]
    defaults = load(tmp_path, {"agents": AGENTS})
    assert (defaults.max_chats, defaults.canned, defaults.teams) == (3, {}, ())


def test_wrong_canned_responses_are_reported_with_their_path(tmp_path: Path) -> None:
    found = issues(tmp_path, {"agents": AGENTS, "tenants": {"test": {"canned": {
        "nl": [
            {"shortcut": "Tijden nu", "title": "T", "text": "x"},
            {"shortcut": "a", "title": "A", "text": "Groet, {agnet}"},
            {"shortcut": "a", "title": "B", "text": "{agent"},
            {"shortcut": "c", "text": "x", "colour": "red"},
        ],
        "dutch": [],
        "en": {"shortcut": "x"},
    }}}})
    base = "adapters.desk.tenants.test.canned"
    assert "lowercase" in found[f"{base}.nl[0].shortcut"]
    assert "unknown placeholder {agnet}" in found[f"{base}.nl[1].text"]
    assert "{agent}, {municipality}" in found[f"{base}.nl[1].text"]
    assert "given twice" in found[f"{base}.nl[2].shortcut"]
    assert "brace" in found[f"{base}.nl[2].text"]
    assert found[f"{base}.nl[3].title"].startswith("required")
    assert "unknown key 'colour'" in found[f"{base}.nl[3].colour"]
    assert "language code" in found[f"{base}.dutch"]
    assert "expected an array" in found[f"{base}.en"]


def test_wrong_limits_teams_and_timers_are_reported(tmp_path: Path) -> None:
    found = issues(tmp_path, {
        "agents": [{"id": "sanne", "name": "Sanne", "token": "${T_SANNE}", "max_chats": 0}],
        "max_chats": 100, "idle_signout_seconds": "1m", "idle_warning_seconds": "2m",
        "reoffer_after_seconds": "soon", "teams": [{"id": "Afval!", "name": "Afval"}],
    })
    assert "at least 1" in found["adapters.desk.agents[0].max_chats"]
    assert "at most 50" in found["adapters.desk.max_chats"]
    assert "shorter than idle_signout_seconds" in found["adapters.desk.idle_warning_seconds"]
    assert "adapters.desk.reoffer_after_seconds" in found
    assert "lowercase" in found["adapters.desk.teams[0].id"]
