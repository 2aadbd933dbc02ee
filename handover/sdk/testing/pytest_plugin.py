"""The test kit's pytest plugin (registered under the `pytest11` entry-point group).

It enables the memory test adapters for the run (`enable_test_adapters`), so a
configuration in a test can name `memory_channel`, `memory_bot` or `memory_desk`, also
in a daemon started as a subprocess (it inherits the environment).
"""

from __future__ import annotations

import pytest

from handover.sdk.testing import enable_test_adapters


def pytest_configure(config: pytest.Config) -> None:
    enable_test_adapters()
