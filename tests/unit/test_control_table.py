"""The transition table's assembly: one table from the groups, each pair listed by one
group, nothing registered at import time, and dispatch on known kinds only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from handover import control
from handover import events as ev
from handover.control import failures, table, transfer
from handover.control.common import duplicate_handover
from handover.model import State

CONTROL = Path(control.__file__).parent


def test_every_pair_is_listed_by_exactly_one_group() -> None:
    for pair in table.TABLE:
        listed_by = [name for name, rows in table.GROUPS.items() if pair in rows]
        assert len(listed_by) == 1, (pair, listed_by)
    assert sum(len(rows) for rows in table.GROUPS.values()) == len(table.TABLE)
    for rows in table.GROUPS.values():
        for pair, handler in rows.items():
            assert table.TABLE[pair] is handler


def test_the_package_exposes_the_assembled_table() -> None:
    assert control.TABLE is table.TABLE
    assert control.transition is table.transition


def test_a_pair_listed_by_two_groups_is_refused() -> None:
    pair = (State.BOT, ev.HandoverRequested)
    with pytest.raises(ValueError, match="HandoverRequested"):
        table.combine({"one": {pair: duplicate_handover}, "two": {pair: duplicate_handover}})


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        table.TABLE[(State.BOT, ev.TransferStatus)] = transfer.not_transferring  # type: ignore[index]


# Each module imported first, in a fresh interpreter: whichever it is, the table is whole
# (the call-transfer rows included). Nothing depends on the order of imports.
FIRST_IMPORTS = sorted(
    f"handover.control.{path.stem}" for path in CONTROL.glob("*.py") if path.stem != "__init__"
)
CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
from handover.control.table import TABLE
from handover import events as ev
from handover.model import State
assert (State.TRANSFER, ev.TransferStatus) in TABLE
assert (State.TRANSFER, ev.CitizenLeft) in TABLE
print(len(TABLE))
"""


@pytest.mark.parametrize("module", FIRST_IMPORTS)
def test_importing_any_module_first_yields_the_full_table(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, module],
        capture_output=True, text=True, check=False, cwd=CONTROL.parents[1],
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(table.TABLE)


def test_transfer_rows_are_in_the_table() -> None:
    for pair, handler in transfer.TRANSITIONS.items():
        assert table.TABLE[pair] is handler
    states = {state for state, event_type in table.TABLE if event_type is ev.TransferStatus}
    assert states == set(State)


def test_every_outbox_kind_has_a_delivery_operation() -> None:
    from handover.engine.outbox import OPERATIONS
    from handover.model import OutboxKind

    assert set(OPERATIONS) == {kind.value for kind in OutboxKind}


def test_every_channel_notice_kind_has_a_reaction() -> None:
    assert set(failures.CHANNEL_NOTICES) == set(ev.ChannelNoticeKind)


def _private_uses(path: Path) -> list[str]:
    """Private names this module takes from another module of the package."""
    tree = ast.parse(path.read_text(), str(path))
    modules: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("handover"):
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"{node.module}.{alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update((a.asname or a.name).split(".")[0] for a in node.names)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", sorted(CONTROL.glob("*.py")), ids=lambda p: p.name)
def test_no_module_uses_another_modules_private_names(path: Path) -> None:
    assert _private_uses(path) == []
