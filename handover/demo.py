"""The embedded default: a configuration that needs no external service.

SQLite in a data directory, the scripted demo bot, the demo desk (driven over HTTP)
and the REST citizen channel, for one example municipality that is always open, so a
newcomer can try the whole flow at any hour.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from handover.config import Config, parse_config

DEMO_TENANT = "demo"


def demo_document(data_dir: Path, host: str, port: int) -> dict[str, Any]:
    """The demo configuration as a TOML-shaped document."""
    return {
        "server": {"host": host, "port": port},
        "store": {"engine": "sqlite", "path": str(data_dir / "handover.db")},
        "logging": {"level": "info", "format": "console"},
        "adapters": {
            "rest": {"type": "rest"},
            "gem": {"type": "demo_bot"},
            "desk": {"type": "demo_desk", "state_path": str(data_dir / "desk.jsonl")},
        },
        "tenants": {
            DEMO_TENANT: {
                "name": "Gemeente Voorbeeld",
                "channels": ["rest"],
                "bot": "gem",
                "desk": "desk",
                "default_language": "nl",
                "languages": ["nl", "en"],
                "handover": {
                    "queue_timeout_seconds": "10m",
                    "queue_fallback": "bot",
                    "phone": "14 0000",
                    "agent_inactivity_seconds": "15m",
                    "citizen_inactivity_seconds": "10m",
                    "bot_failure": "escalate",
                },
                "survey": {"enabled": True, "timeout_seconds": "5m"},
            }
        },
    }


def demo_config(data_dir: str | Path, host: str = "127.0.0.1", port: int = 8080) -> Config:
    """Build the demo configuration, creating the data directory."""
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return parse_config(demo_document(path, host, port), base_dir=path, env=os.environ)
