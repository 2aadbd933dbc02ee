"""`handover new-adapter` writes a package that passes the conformance suite as generated."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

from handover.cli.main import main
from handover.cli.scaffold import ScaffoldError, class_name, render, write_adapter
from handover.sdk.conformance import CHECKS, run_checks


class Outcomes:
    """A pytest plugin counting the outcomes of a nested run."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.skipped: list[str] = []
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" and report.passed:
            self.passed.append(report.nodeid)
        elif report.skipped:
            self.skipped.append(report.nodeid)
        elif report.failed:
            self.failed.append(report.nodeid)


def test_a_generated_desk_passes_the_suite_in_a_pytest_run(tmp_path: Path) -> None:
    assert main(["new-adapter", "town_desk", "--kind", "desk", "--dir", str(tmp_path)]) == 0
    root = tmp_path / "town_desk"
    assert {p.name for p in (root / "town_desk").iterdir()} >= {
        "adapter.py", "options.py", "wire.py", "client.py", "routes.py", "__init__.py"}
    outcomes = Outcomes()
    code = pytest.main(
        [str(root / "tests"), "-q", "-p", "no:cacheprovider", "--rootdir", str(root),
         "-c", str(root / "pyproject.toml"), "--import-mode=importlib"],
        plugins=[outcomes],
    )
    assert code == 0, outcomes.failed
    assert not outcomes.failed
    # A desk: only the channel-only capabilities check does not apply.
    assert len(outcomes.passed) == len(CHECKS) - 1, outcomes.skipped
    for module in [m for m in sys.modules if m.startswith("town_desk")]:
        del sys.modules[module]


@pytest.mark.parametrize("kind", ["channel", "bot", "desk"])
def test_every_kind_passes_the_suite_called_directly(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"generated_{kind}"
    root = write_adapter(name, kind, tmp_path)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.syspath_prepend(str(root / "tests"))
    try:
        adapter = importlib.import_module(f"{name}.adapter")
        assert adapter.__dict__[class_name(name, kind)].kind.value == kind
        case = importlib.import_module("test_conformance").CASE
        results = run_checks(case)
    finally:
        for module in [m for m in sys.modules if m.startswith(name) or m == "test_conformance"]:
            del sys.modules[module]
    applies = {"channel": len(CHECKS), "desk": len(CHECKS) - 1, "bot": len(CHECKS) - 4}
    assert sum(reason is None for reason in results.values()) == applies[kind], results


def test_routes_only_for_the_kinds_with_a_webhook() -> None:
    assert "bot_thing/routes.py" not in render("bot_thing", "bot")
    assert "desk_thing/routes.py" in render("desk_thing", "desk")
    assert class_name("acme_desk", "desk") == "AcmeDesk"
    assert class_name("acme", "channel") == "AcmeChannel"


@pytest.mark.parametrize("name", ["Acme", "1acme", "acme-desk", "class", ""])
def test_unusable_names_are_refused(name: str) -> None:
    with pytest.raises(ScaffoldError):
        render(name, "desk")


def test_an_existing_directory_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert main(["new-adapter", "taken", "--kind", "bot", "--dir", str(tmp_path)]) == 2
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
