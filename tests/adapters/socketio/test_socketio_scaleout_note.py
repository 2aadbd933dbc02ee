"""`handover check-config` says, for a configuration of several instances, that socket.io
long-polling needs session affinity; a websocket-only channel or SQLite needs nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from handover.cli.main import main

CONFIG = """
[store]
{store}

[adapters.webchat]
type = "socketio"
{transports}
[adapters.webchat.tenants.t]
origins = ["https://www.gemeente.example"]

[adapters.bot]
type = "demo_bot"
[adapters.desk]
type = "demo_desk"

[tenants.t]
name = "T"
channels = ["webchat"]
bot = "bot"
desk = "desk"
[tenants.t.handover]
phone = "14 012"
"""
POSTGRES = 'engine = "postgres"\ndsn = "${HANDOVER_TEST_DSN}"'


@pytest.mark.parametrize(("store", "transports", "noted"), [
    (POSTGRES, "", True),
    (POSTGRES, 'transports = ["polling", "websocket"]', True),
    (POSTGRES, 'transports = ["websocket"]', False),
    ('engine = "sqlite"', "", False),
])
def test_check_config_notes_that_long_polling_needs_affinity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    store: str, transports: str, noted: bool,
) -> None:
    monkeypatch.setenv("HANDOVER_TEST_DSN", "postgresql://h@localhost/handover")
    path = tmp_path / "handover.toml"
    path.write_text(CONFIG.format(store=store, transports=transports), encoding="utf-8")
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert ("note: adapters.webchat: socket.io long-polling needs session affinity" in out
            ) is noted, out
    assert out.strip().endswith(": ok")


def test_an_unknown_transport_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "handover.toml"
    path.write_text(CONFIG.format(store='engine = "sqlite"', transports='transports = ["comet"]'),
                    encoding="utf-8")
    assert main(["check-config", str(path)]) == 1
    assert "adapters.webchat.transports" in capsys.readouterr().err
