"""The Grafana dashboard and the Prometheus alert rules use only metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from handover import metrics
from handover.daemon.registry import adapter_class, installed_adapters

CONFIG = Path(__file__).resolve().parents[2] / "config"
DASHBOARD = CONFIG / "grafana" / "handover.json"
RULES = CONFIG / "prometheus" / "handover-alerts.yml"
_NAME = re.compile(r"\bhandover_[a-z0-9_]+\b")


def exported() -> set[str]:
    """Every sample name the daemon can export, with all installed adapters loaded."""
    for type_name in installed_adapters():
        adapter_class(type_name)  # registers the adapter's own metrics
    names: set[str] = set()
    for line in generate_latest(metrics.REGISTRY).decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names.update({f"{name}_bucket", f"{name}_count", f"{name}_sum"})
    return names


def dashboard_exprs() -> list[str]:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    exprs += [v["query"] for v in doc["templating"]["list"] if v["type"] == "query"]
    return exprs


def test_every_dashboard_metric_is_exported() -> None:
    names = exported()
    used = {n for expr in dashboard_exprs() for n in _NAME.findall(expr)}
    assert used, "the dashboard should query the daemon's metrics"
    assert used <= names, f"not exported: {sorted(used - names)}"


def test_every_alert_metric_is_exported() -> None:
    text = RULES.read_text(encoding="utf-8")
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    used = set(_NAME.findall(code))
    assert used, "the alert rules should use the daemon's metrics"
    assert used <= exported(), f"not exported: {sorted(used - exported())}"


def test_the_dashboard_covers_what_operators_watch() -> None:
    used = {n for expr in dashboard_exprs() for n in _NAME.findall(expr)}
    for needed in (
        "handover_handovers_total", "handover_queue_wait_seconds_bucket",
        "handover_survey_score_bucket", "handover_relay_latency_seconds_bucket",
        "handover_outbox_depth", "handover_outbox_oldest_age_seconds",
        "handover_dead_letters_total", "handover_upstream_errors_total",
        "handover_circuit_state", "handover_websocket_connections",
        "handover_event_loop_lag_seconds_bucket",
    ):
        assert needed in used, needed


def test_alert_rules_name_the_problems_operators_page_on() -> None:
    text = RULES.read_text(encoding="utf-8")
    alerts = re.findall(r"^\s*- alert: (\w+)$", text, re.MULTILINE)
    assert {"HandoverOutboxStuck", "HandoverDeadLetters", "HandoverDeskDown",
            "HandoverSignatureFailures", "HandoverEventLoopLag"} <= set(alerts)
    # Every rule has an expression and a severity.
    assert text.count("expr:") == len(alerts) == text.count("severity:")
