"""The configuration loader with random TOML-ish trees: it reports ConfigIssues with a
path for each problem and never raises anything else."""

from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from handover.config.load import parse_config
from handover.sdk.contracts import ConfigIssues
from tests.fuzz.strategies import FUZZ, text

EXAMPLE = tomllib.loads(
    (Path(__file__).parents[2] / "config" / "example.toml").read_text())

toml_scalars = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False), text,
    st.sampled_from(["10s", "5m", "1d", "-1s", "0", "08:30-17:00", "25:00-26:00",
                     "${UNSET_VAR}", "${HOME}", "<placeholder>", "sqlite", "postgres"]),
)
toml_values: st.SearchStrategy[Any] = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(text, inner, max_size=3)),
    max_leaves=10,
)


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            out += _paths(value, (*prefix, key))
    return out


_EXAMPLE_PATHS = _paths(EXAMPLE)[1:]


@st.composite
def mutated_example(draw: st.DrawFn) -> dict[str, Any]:
    """The documented example with a few values replaced, removed or added."""
    doc = copy.deepcopy(EXAMPLE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_EXAMPLE_PATHS))
        parent: Any = doc
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(toml_values)
        elif action == "delete":
            parent.pop(path[-1], None)
        else:
            parent[draw(text)] = draw(toml_values)
    return doc


def _check(doc: dict[str, Any], tmp: Path) -> None:
    try:
        parse_config(doc, base_dir=tmp, env=dict(os.environ))
    except ConfigIssues as exc:
        assert exc.issues, "ConfigIssues without an issue"
        for issue in exc.issues:
            assert isinstance(issue.path, str) and issue.message, issue
        event("refused")
    else:
        event("accepted")


@FUZZ
@given(doc=mutated_example())
def test_mutated_example(doc: dict[str, Any], tmp_path_factory: Any) -> None:
    _check(doc, tmp_path_factory.getbasetemp())


@FUZZ
@given(doc=st.dictionaries(
    st.sampled_from(["server", "store", "delivery", "logging", "adapters", "tenants", "x"]),
    toml_values, max_size=6))
def test_random_tree(doc: dict[str, Any], tmp_path_factory: Any) -> None:
    _check(doc, tmp_path_factory.getbasetemp())
