"""`registries`, `[tenants.<id>.callback]` and `[tenants.<id>.registration]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handover.sdk.contracts import ConfigIssues
from tests.harness import TENANT, make_config

REGISTRY = {"adapters": {"kcc-register": {"type": "memory_registry"}}}


def _issues(tmp_path: Path, extra: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigIssues) as caught:
        make_config(tmp_path, extra)
    return {i.path: i.message for i in caught.value.issues}


def test_a_registration_target_is_accepted(tmp_path: Path) -> None:
    config = make_config(tmp_path, {
        **REGISTRY,
        "tenants": {TENANT: {"registries": ["kcc-register"], "callback": {"enabled": True}}},
    })
    tenant = config.tenants[TENANT]
    assert tenant.registries == ("kcc-register",)
    assert tenant.callback.enabled
    assert config.tenants_using("kcc-register") == (TENANT,)


def test_an_adapter_that_registers_nothing_is_refused(tmp_path: Path) -> None:
    found = _issues(tmp_path, {"tenants": {TENANT: {"registries": ["bot", "nope"]}}})
    assert "registers nothing" in found[f"tenants.{TENANT}.registries[0]"]
    assert "no adapter instance 'nope'" in found[f"tenants.{TENANT}.registries[1]"]


def test_callbacks_need_a_target(tmp_path: Path) -> None:
    found = _issues(tmp_path, {"tenants": {TENANT: {"callback": {"enabled": True}}}})
    assert "somewhere to go" in found[f"tenants.{TENANT}.callback.enabled"]


def test_bad_callback_and_registration_values(tmp_path: Path) -> None:
    found = _issues(tmp_path, {
        **REGISTRY,
        "tenants": {TENANT: {
            "registries": ["kcc-register"],
            "callback": {"offer_when": ["outside_hour"], "colour": 1},
            "registration": {"content": "transcript"},
        }},
    })
    assert "did you mean" in found[f"tenants.{TENANT}.callback.offer_when[0]"].lower()
    assert f"tenants.{TENANT}.callback.colour" in found
    assert f"tenants.{TENANT}.registration.content" in found
