"""Tenant configurations for the evaluation and retention tests."""

from __future__ import annotations

import copy
from pathlib import Path

from handover.config.load import parse_config
from handover.config.model import RetentionPolicy, TenantConfig
from tests.harness import BASE, TENANT


def tenant_config(tenant_id: str, retention: RetentionPolicy | None = None) -> TenantConfig:
    """A tenant as `[tenants.<id>]` would configure it, with the memory adapters."""
    doc = copy.deepcopy(BASE)
    section = doc["tenants"].pop(TENANT)
    if retention is not None:
        section["retention"] = {
            "bodies_days": retention.bodies_days, "metadata_days": retention.metadata_days,
        }  # fmt: skip
    doc["tenants"] = {tenant_id: section}
    doc["store"] = {"path": "unused.db"}
    return parse_config(doc, base_dir=Path(), env={}).tenants[tenant_id]
