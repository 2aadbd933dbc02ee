"""The `[adapters.<name>] type = "rasa"` section: defaults, per-tenant overrides, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.rasa.adapter import RasaBot
from adapters.rasa.options import TenantSettings
from handover.config.load import parse_config
from handover.sdk.contracts import ConfigIssues

P = "adapters.gem"


def issues_of(section: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ConfigIssues) as exc:
        RasaBot.parse_config(section, P)
    return {i.path: i.message for i in exc.value.issues}


def test_defaults_need_only_the_url() -> None:
    options = RasaBot.parse_config({"url": "https://gem.example.nl/"}, P)
    assert options.defaults == TenantSettings(url="https://gem.example.nl")
    assert options.for_tenant("anywhere").handover_key == "handover"
    assert options.defaults.mode == "rest" and options.defaults.empty_answer == "failure"


def test_a_tenant_overrides_only_what_it_names() -> None:
    options = RasaBot.parse_config(
        {
            "url": "https://gem.example.nl",
            "handover_payloads": ["/handover"],
            "empty_answer": "failure",
            "tenants": {
                "utrecht": {"empty_answer": "silence", "handover_key": "livechat"},
                "zwolle": {"url": "https://gem-zwolle.example.nl", "turn_timeout_seconds": "30s"},
            },
        },
        P,
    )
    utrecht, zwolle = options.for_tenant("utrecht"), options.for_tenant("zwolle")
    assert (utrecht.empty_answer, utrecht.handover_key, utrecht.handover_payloads) == (
        "silence", "livechat", ("/handover",)
    )
    assert utrecht.url == "https://gem.example.nl"
    assert (zwolle.url, zwolle.turn_timeout_seconds, zwolle.empty_answer) == (
        "https://gem-zwolle.example.nl", 30.0, "failure"
    )
    assert options.for_tenant("amersfoort") == options.defaults


def test_every_problem_is_reported_with_its_path() -> None:
    found = issues_of({
        "url": "ftp://gem",
        "mode": "socketio",
        "turn_timeout_seconds": "1h",
        "handover_intents": ["human_handoff"],
        "show_slots": ["gemeente"],
        "handback": "intent",
        "colour": "blue",
        "tenants": {"utrecht": {"empty_answer": "maybe", "api_url": "https://x?token=1"}},
    })
    assert set(found) == {
        f"{P}.url", f"{P}.mode", f"{P}.turn_timeout_seconds", f"{P}.handover_intents",
        f"{P}.show_slots", f"{P}.handback", f"{P}.colour",
        f"{P}.tenants.utrecht.empty_answer", f"{P}.tenants.utrecht.api_url",
        # The tenant inherits the combination problems of the defaults.
        f"{P}.tenants.utrecht.handover_intents", f"{P}.tenants.utrecht.show_slots",
        f"{P}.tenants.utrecht.handback",
    }
    assert "api = true" in found[f"{P}.handover_intents"]
    assert "without query" in found[f"{P}.tenants.utrecht.api_url"]


def test_the_url_is_required() -> None:
    assert f"{P}.url" in issues_of({})


def test_callback_mode_needs_the_callback_token() -> None:
    found = issues_of({"url": "https://gem.example.nl", "mode": "callback"})
    assert "callback_token" in found[f"{P}.mode"]


def test_secrets_only_from_the_environment(tmp_path: Path) -> None:
    doc = {
        "store": {"path": str(tmp_path / "h.db")},
        "adapters": {
            "chat": {"type": "memory_channel"},
            "gem": {"type": "rasa", "url": "https://gem.example.nl", "api": True,
                    "api_token": "literal-token", "callback_token": "${GEM_CALLBACK}"},
            "desk": {"type": "memory_desk"},
        },
        "tenants": {"t": {"name": "T", "channels": ["chat"], "bot": "gem", "desk": "desk",
                          "handover": {"phone": "14 012"}}},
    }
    with pytest.raises(ConfigIssues) as exc:
        parse_config(doc, base_dir=tmp_path, env={"GEM_CALLBACK": "s3cret"})
    assert [i.path for i in exc.value.issues] == ["adapters.gem.api_token"]
    doc["adapters"]["gem"]["api_token"] = "${GEM_API_TOKEN}"  # type: ignore[index]
    config = parse_config(doc, base_dir=tmp_path, env={"GEM_CALLBACK": "s3cret",
                                                         "GEM_API_TOKEN": "tok"})
    options = config.adapters["gem"].options
    assert options.defaults.api_token == "tok" and options.callback_tokens == ("s3cret",)


def test_the_readme_example_is_valid() -> None:
    import tomllib

    readme = Path(__file__).resolve().parents[3] / "adapters" / "rasa" / "README.md"
    block = readme.read_text(encoding="utf-8").split("```toml\n", 1)[1].split("```", 1)[0]
    section = dict(tomllib.loads(block)["adapters"]["gem"])
    assert section.pop("type") == "rasa"
    options = RasaBot.parse_config(section, P)
    assert options.defaults == TenantSettings(url="https://gem.example.nl")


def test_an_override_for_a_tenant_that_does_not_use_the_bot_is_refused(tmp_path: Path) -> None:
    doc = {
        "store": {"path": str(tmp_path / "h.db")},
        "adapters": {
            "chat": {"type": "memory_channel"},
            "gem": {"type": "rasa", "url": "https://gem.example.nl",
                    "tenants": {"utrecth": {"show_intents": 1}}},
            "desk": {"type": "memory_desk"},
        },
        "tenants": {"utrecht": {"name": "U", "channels": ["chat"], "bot": "gem",
                                "desk": "desk", "handover": {"phone": "14 030"}}},
    }
    with pytest.raises(ConfigIssues) as exc:
        parse_config(doc, base_dir=tmp_path, env={})
    assert {i.path: i.message for i in exc.value.issues} == {
        "adapters.gem.tenants.utrecth": "tenant 'utrecth' does not use this bot (used by: utrecht)"
    }
