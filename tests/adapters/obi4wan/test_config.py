"""The adapter's configuration: the README example, errors with paths, one tenant each."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from adapters.obi4wan.adapter import Obi4wanDesk
from adapters.obi4wan.options import Obi4wanOptions
from handover.config.load import parse_config
from handover.daemon.registry import adapter_class, describe_adapters
from handover.sdk.contracts import ConfigIssues
from tests.harness import BASE, merge

README = Path(__file__).parents[3] / "adapters" / "obi4wan" / "README.md"
ENV = {
    "OBI4WAN_UTRECHT_TOKEN": "t-1",
    "OBI4WAN_UTRECHT_WEBHOOK_SECRET": "s-new",
    "OBI4WAN_UTRECHT_WEBHOOK_SECRET_OLD": "s-old",
}
PLACEHOLDERS = {
    "api_url": "https://api.obi4wan.example",
    "channel_identifier": "11111111-2222-3333-4444-555555555555",
    "chat_guid": "guid-1",
}


def readme_section() -> dict[str, Any]:
    block = re.search(r"```toml\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    doc = tomllib.loads(block.group(1))
    return dict(doc["adapters"]["obi4wan_utrecht"])


def config(section: dict[str, Any], tmp: Path, *, tenants: int = 1,
           env: dict[str, str] | None = None) -> Any:
    doc = merge(BASE, {"store": {"path": str(tmp / "h.db")}})
    doc["adapters"]["desk"] = section
    for i in range(1, tenants):
        doc["tenants"][f"other{i}"] = {**doc["tenants"]["test"], "name": f"Gemeente {i}"}
    return parse_config(doc, base_dir=tmp, env=ENV if env is None else env)


def test_the_readme_example_is_valid_once_placeholders_are_filled(tmp_path: Path) -> None:
    section = readme_section()
    assert all(str(section[k]).startswith("<") for k in PLACEHOLDERS)
    with pytest.raises(ConfigIssues, match="placeholder"):
        config(section, tmp_path)
    options = config({**section, **PLACEHOLDERS}, tmp_path).adapters["desk"].options
    assert isinstance(options, Obi4wanOptions)
    assert options.channel_token == "t-1"
    assert options.webhook_secrets == ("s-new", "s-old")
    assert options.webhook_tolerance_seconds == 300
    assert options.queue_poll_seconds == 30


def test_every_problem_is_reported_with_its_path(tmp_path: Path) -> None:
    section = {
        "type": "obi4wan", "api_url": "ftp://obi4wan.example?x=1", "chat_guid": 7,
        "channel_token": "literal-token", "webhook_secret": ["${A}", "${B}", "${C}"],
        "queue_poll_seconds": "often", "circuit_failure_threshold": 0, "colour": "blue",
    }
    with pytest.raises(ConfigIssues) as raised:
        config(section, tmp_path, env={"A": "a", "B": "b", "C": "c"})
    text = str(raised.value)
    for expected in (
        "adapters.desk.api_url: expected an http(s) URL",
        "adapters.desk.channel_identifier: required",
        "adapters.desk.chat_guid: expected string",
        "adapters.desk.channel_token",  # a literal secret is refused by the core
        "adapters.desk.webhook_secret",
        "adapters.desk.queue_poll_seconds",
        "adapters.desk.circuit_failure_threshold: must be at least 1",
        "adapters.desk.colour: unknown key",
    ):
        assert expected in text, expected
    assert "literal-token" not in text


def test_one_instance_serves_one_tenant(tmp_path: Path) -> None:
    # Refused when the configuration is loaded (so `check-config` says it too), with
    # the section's path.
    with pytest.raises(ConfigIssues, match="serves one tenant, but tenants other1, test") as e:
        config({**readme_section(), **PLACEHOLDERS}, tmp_path, tenants=2)
    assert [i.path for i in e.value.issues] == ["adapters.desk"]


def test_registered_as_a_desk_adapter() -> None:
    assert adapter_class("obi4wan") is Obi4wanDesk
    assert ("desk", "obi4wan") in {(kind, name) for kind, name, _ in describe_adapters()}
