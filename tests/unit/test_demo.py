"""The embedded demo configuration: widget origins and the console agent's token."""

from __future__ import annotations

import stat
from pathlib import Path

from handover.demo.config import TOKEN_ENV, demo_config, demo_origins


def test_the_demo_widget_may_be_opened_from_the_demo_page_only() -> None:
    assert demo_origins("127.0.0.1", 8080) == ["http://127.0.0.1:8080", "http://localhost:8080"]
    assert demo_origins("0.0.0.0", 80) == ["http://127.0.0.1:80", "http://localhost:80"]
    assert demo_origins("demo.example.nl", 9000) == ["http://demo.example.nl:9000"]


def test_the_agent_token_is_made_once_kept_private_and_reused(tmp_path: Path) -> None:
    config, token = demo_config(tmp_path, env={})
    assert len(token) >= 24
    kept = tmp_path / "agent-token"
    assert kept.read_text().strip() == token
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert demo_config(tmp_path, env={})[1] == token  # a restart signs in the same way
    tenant = config.tenants["demo"]
    assert tenant.desk == "console" and "web" in tenant.channels


def test_a_token_from_the_environment_wins(tmp_path: Path) -> None:
    given = "a-token-from-the-environment-0123"
    _, token = demo_config(tmp_path, env={TOKEN_ENV: given})
    assert token == given
    assert not (tmp_path / "agent-token").exists()
