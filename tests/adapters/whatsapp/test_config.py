"""The channel's configuration: every problem reported with its path."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.whatsapp.adapter import WhatsAppChannel
from handover.sdk.contracts import ConfigIssues

GOOD: dict[str, Any] = {
    "access_token": "tok", "app_secret": "sec", "verify_token": "ver",
    "public_url": "https://chat.example.nl/whatsapp", "media_dir": "/tmp/media",
    "tenants": {"utrecht": {"phone_number_id": "106540352242922",
                            "template_name": "gemeente_antwoord", "template_language": "nl"}},
}


def problems(section: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigIssues) as caught:
        WhatsAppChannel.parse_config(section, "adapters.wa")
    return {i.path: i.message for i in caught.value.issues}


def test_a_good_section_parses_with_durations_and_defaults() -> None:
    options = WhatsAppChannel.parse_config(
        {**GOOD, "app_secret": ["new", "old"], "media_ttl_seconds": "1d",
         "window_warning_seconds": 0}, "adapters.wa")
    assert options.app_secrets == ("new", "old")
    assert options.media_ttl_seconds == 86400 and options.window_warning_seconds == 0
    assert options.numbers == {"106540352242922": "utrecht"}
    assert options.state_path is None  # in memory unless given


def test_every_problem_is_listed_with_its_path() -> None:
    found = problems({
        "app_secret": ["a", "b", "c"], "public_url": "chat.example.nl", "mark_reed": True,
        "tenants": {
            "utrecht": {"phone_number_id": "+31 6 1234 5678", "template_name": "Antwoord!",
                        "template_language": "Dutch"},
            "zeist": {"phone_number_id": "+31 6 1234 5678"},
        },
    })
    assert set(found) >= {
        "adapters.wa.access_token", "adapters.wa.verify_token", "adapters.wa.media_dir",
        "adapters.wa.app_secret", "adapters.wa.public_url", "adapters.wa.mark_reed",
        "adapters.wa.tenants.utrecht.phone_number_id",
        "adapters.wa.tenants.utrecht.template_name",
        "adapters.wa.tenants.utrecht.template_language",
        "adapters.wa.tenants.zeist.template_name",
    }
    assert "not the phone number" in found["adapters.wa.tenants.utrecht.phone_number_id"]


def test_a_number_used_twice_and_tenants_that_do_not_match_are_refused() -> None:
    two = {**GOOD, "tenants": {**GOOD["tenants"], "zeist": GOOD["tenants"]["utrecht"]}}
    assert "already used" in problems(two)["adapters.wa.tenants.zeist.phone_number_id"]
    options = WhatsAppChannel.parse_config(GOOD, "adapters.wa")
    with pytest.raises(ConfigIssues) as caught:
        WhatsAppChannel.check_tenants(options, ["zeist"], "adapters.wa")
    assert {i.path for i in caught.value.issues} == {"adapters.wa.tenants.zeist",
                                                    "adapters.wa.tenants.utrecht"}


def test_a_mistake_elsewhere_in_a_tenant_adds_no_false_tenant_problem(tmp_path: Any) -> None:
    """A typo in the tenant's own section is the one problem reported: the WhatsApp
    instance must not claim on top of it that the tenant does not use it."""
    from pathlib import Path

    from handover.config.load import load_config

    media = Path(tmp_path) / "media"
    config = Path(tmp_path) / "handover.toml"
    config.write_text(f"""
[adapters.whatsapp]
type = "whatsapp"
access_token = "${{WA_TOKEN}}"
app_secret = "${{WA_SECRET}}"
verify_token = "${{WA_VERIFY}}"
public_url = "https://chat.example.nl/whatsapp"
media_dir = "{media}"

[adapters.whatsapp.tenants.utrecht]
phone_number_id = "106540352242922"
template_name = "gemeente_antwoord"
template_language = "nl"

[adapters.gem]
type = "demo_bot"

[adapters.kcc]
type = "demo_desk"

[tenants.utrecht]
name = "Gemeente Utrecht"
channels = ["whatsapp"]
bot = "gem"
desk = "kcc"

[tenants.utrecht.handover]
phone = "14 030"

[tenants.utrecht.hours]
mondai = "08:00-17:00"
""")
    env = {"WA_TOKEN": "token-value-1", "WA_SECRET": "secret-value-1", "WA_VERIFY": "verify-1"}
    with pytest.raises(ConfigIssues) as caught:
        load_config(config, env=env)
    paths = [i.path for i in caught.value.issues]
    assert paths == ["tenants.utrecht.hours.mondai"], caught.value.issues
