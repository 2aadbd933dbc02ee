"""`[tenants.<id>.retention]`: days of bodies and of metadata, checked against each other."""

from __future__ import annotations

from pathlib import Path

from handover.config.load import RetentionPolicy
from tests.unit.test_config import MINIMAL, issues_of, load


def test_defaults_keep_bodies_a_month_and_metadata_a_year(tmp_path: Path) -> None:
    tenant = load(tmp_path, MINIMAL).tenants["utrecht"]
    assert tenant.retention == RetentionPolicy(bodies_days=30, metadata_days=365)


def test_settings_are_read(tmp_path: Path) -> None:
    text = MINIMAL + "\n[tenants.utrecht.retention]\nbodies_days = 7\nmetadata_days = 90\n"
    assert load(tmp_path, text).tenants["utrecht"].retention == RetentionPolicy(7, 90)
    # Bodies kept longer than the default metadata: metadata follows unless set.
    text = MINIMAL + "\n[tenants.utrecht.retention]\nbodies_days = 500\n"
    assert load(tmp_path, text).tenants["utrecht"].retention == RetentionPolicy(500, 500)


def test_bad_settings_are_reported_with_their_path(tmp_path: Path) -> None:
    text = MINIMAL + "\n[tenants.utrecht.retention]\nbodies_days = 30\nmetadata_days = 10\n"
    assert issues_of(tmp_path, text) == {
        "tenants.utrecht.retention.metadata_days": "must be at least bodies_days (30), got 10"
    }
    text = MINIMAL + '\n[tenants.utrecht.retention]\nbodies_days = 0\nbody_days = 3\n'
    found = issues_of(tmp_path, text)
    assert found["tenants.utrecht.retention.bodies_days"] == "must be at least 1, got 0"
    assert "bodies_days" in found["tenants.utrecht.retention.body_days"]  # did you mean
