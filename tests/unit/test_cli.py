"""`handover migrate`: applies the schema, says which version, refuses a newer one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from handover.cli.main import main

CONFIG = """
[store]
engine = "sqlite"
path = "db/handover.db"
migrate = "{mode}"

[adapters.chat]
type = "memory_channel"
[adapters.bot]
type = "memory_bot"
[adapters.desk]
type = "memory_desk"

[tenants.t]
name = "T"
channels = ["chat"]
bot = "bot"
desk = "desk"
[tenants.t.handover]
phone = "14 012"
"""


def write(tmp_path: Path, mode: str = "manual") -> Path:
    (tmp_path / "db").mkdir(exist_ok=True)
    path = tmp_path / "handover.toml"
    path.write_text(CONFIG.format(mode=mode), encoding="utf-8")
    return path


def test_migrate_applies_the_schema_and_says_its_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--config", str(write(tmp_path))]) == 0
    assert capsys.readouterr().out.strip() == "sqlite store at schema version 3"
    db = sqlite3.connect(tmp_path / "db" / "handover.db")
    assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (3,)
    db.close()
    # Again: nothing to do, same answer.
    assert main(["migrate", "--config", str(write(tmp_path))]) == 0


def test_migrate_refuses_a_database_of_a_newer_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path)
    assert main(["migrate", "--config", str(config)]) == 0
    db = sqlite3.connect(tmp_path / "db" / "handover.db")
    with db:
        db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)")
    db.close()
    assert main(["migrate", "--config", str(config)]) == 1
    assert "99" in capsys.readouterr().err


def test_an_unknown_migrate_mode_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--config", str(write(tmp_path, mode="sometimes"))]) == 1
    assert "store.migrate" in capsys.readouterr().err
