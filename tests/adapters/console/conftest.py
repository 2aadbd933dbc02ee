from __future__ import annotations

import pytest

from tests.adapters.console.support import TOKENS


@pytest.fixture(autouse=True)
def agent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agents' tokens, in the environment where the configuration refers to them."""
    for key, token in TOKENS.items():
        monkeypatch.setenv(f"CONSOLE_TOKEN_{key.upper()}", token)
