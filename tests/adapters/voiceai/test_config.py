"""The channel's configuration: every problem reported with its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.voiceai.options import parse_options
from handover.sdk.contracts import ConfigIssues
from tests.adapters.voiceai.conftest import voice_config
from tests.harness import make_config

GOOD = {
    "bot_token": "t" * 20, "transcript_token": ["k" * 20, "old" * 7],
    "reference_secret": "s" * 20, "tenants": {"demo": {"transfer_target": "tel:+31140030"}},
}


def issues_of(section: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ConfigIssues) as caught:
        parse_options(section, "adapters.phone")
    return {i.path: i.message for i in caught.value.issues}


def test_a_complete_section_is_read() -> None:
    options = parse_options(GOOD, "adapters.phone")
    assert options.transcript_tokens == ("k" * 20, "old" * 7)
    assert options.transfer_targets == {"demo": "tel:+31140030"}
    assert options.transfer_failure == "bot" and options.response_budget_seconds == 3.0


def test_every_problem_is_reported_with_its_path() -> None:
    found = issues_of({
        "transcript_token": ["a", "b", "c"], "reference_secret": "short",
        "tenants": {"demo": {"transfer_target": "0301234567"}},
        "transfer_failure": "voicemail", "reference_header": "Ref", "budget": 3,
    })
    assert "required" in found["adapters.phone.bot_token"]
    assert "two" in found["adapters.phone.transcript_token"]
    assert "16" in found["adapters.phone.reference_secret"]
    assert "tel:" in found["adapters.phone.tenants.demo.transfer_target"]
    assert "goodbye" in found["adapters.phone.transfer_failure"]
    assert "X-" in found["adapters.phone.reference_header"]
    assert "unknown key" in found["adapters.phone.budget"]


def test_each_tenant_on_the_channel_needs_a_transfer_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = voice_config()
    del config["adapters"]["phone"]["tenants"]["closed"]
    with pytest.raises(ConfigIssues) as caught:
        make_config(tmp_path, config)
    paths = [i.path for i in caught.value.issues]
    assert "adapters.phone.tenants.closed.transfer_target" in paths


def test_a_literal_token_in_the_file_is_refused(tmp_path: Path) -> None:
    config = voice_config()
    config["adapters"]["phone"]["bot_token"] = "literal-token-in-the-file"
    with pytest.raises(ConfigIssues) as caught:
        make_config(tmp_path, config)
    assert any(i.path == "adapters.phone.bot_token" for i in caught.value.issues)
