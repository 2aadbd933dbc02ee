"""The embedded default: a configuration that needs no external service.

SQLite in a data directory, the scripted demo bot, the web widget and the REST channel
for citizens, and the built-in agent console as the desk, for one example municipality
that is always open, so a newcomer can try the whole flow at any hour. The console's
agent token is made up at the first start and kept in the data directory (or taken from
HANDOVER_DEMO_AGENT_TOKEN); `handover demo` prints it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handover.config.load import Config, parse_config

DEMO_TENANT = "demo"
TOKEN_ENV = "HANDOVER_DEMO_AGENT_TOKEN"  # noqa: S105 - a variable name, not a secret
_TOKEN_FILE = "agent-token"  # noqa: S105 - a file name, not a secret


def demo_origins(host: str, port: int) -> list[str]:
    """The page origins the demo's widget may be opened from."""
    names = {host}
    if host in ("127.0.0.1", "0.0.0.0", "::", "localhost"):  # noqa: S104 - comparing, not binding
        # Listening on loopback or everywhere: a browser on this machine calls it either.
        names = {"127.0.0.1", "localhost"}
    return sorted(f"http://{name}:{port}" for name in names)


def demo_document(data_dir: Path, host: str, port: int) -> dict[str, Any]:
    """The demo configuration as a TOML-shaped document."""
    return {
        "server": {"host": host, "port": port},
        "store": {"engine": "sqlite", "path": str(data_dir / "handover.db")},
        "logging": {"level": "info", "format": "console"},
        "adapters": {
            "web": {"type": "web", "tenants": {
                DEMO_TENANT: {"origins": demo_origins(host, port)},
            }},
            "rest": {"type": "rest"},
            "gem": {"type": "demo_bot"},
            "console": {
                "type": "console",
                # The demo queues a handover even before an agent opened the console.
                "availability": "always",
                "agents": [
                    {"id": "sanne", "name": "Sanne", "token": "${" + TOKEN_ENV + "}"},
                ],
            },
        },
        "tenants": {
            DEMO_TENANT: {
                "name": "Gemeente Voorbeeld",
                "channels": ["web", "rest"],
                "bot": "gem",
                "desk": "console",
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


def demo_agent_token(data_dir: Path, env: Mapping[str, str]) -> str:
    """The console agent's token: from the environment, else kept in the data directory
    (made up at the first start, so a restarted demo keeps the same sign-in)."""
    given = env.get(TOKEN_ENV)
    if given:
        return given
    path = data_dir / _TOKEN_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    token = secrets.token_urlsafe(24)
    # Readable by the owner only: it signs an agent in.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token


def demo_config(
    data_dir: str | Path, host: str = "127.0.0.1", port: int = 8080,
    env: Mapping[str, str] | None = None,
) -> tuple[Config, str]:
    """Build the demo configuration, creating the data directory; with the agent token."""
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    environ = dict(os.environ if env is None else env)
    token = demo_agent_token(path, environ)
    environ[TOKEN_ENV] = token
    return parse_config(demo_document(path, host, port), base_dir=path, env=environ), token
