"""The PNG plots of REPORT.md (matplotlib, from the `bench` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(out: Path, r: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rel, rates = r["relay"], r["rates"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = ["durable", "bare"]
    left.bar(names, [rel["closed"][n].per_second for n in names], color=["#1f6f8b", "#99a8b2"])
    left.axhline(0.5 * rel["closed"]["bare"].per_second, color="#c0392b", linestyle="--",
                 label="target: 0.5x bare")
    left.set_title("Closed loop: messages/s relayed")
    left.legend()
    for name, colour in (("durable", "#1f6f8b"), ("bare", "#99a8b2")):
        right.plot(rates, [rel["paced"][(name, x)].pct(99) for x in rates], marker="o",
                   color=colour, label=f"{name} p99")
        right.plot(rates, [rel["paced"][(name, x)].pct(50) for x in rates], marker=".",
                   linestyle=":", color=colour, label=f"{name} p50")
    right.set_xlabel("offered load (messages/s)")
    right.set_ylabel("round trip (ms)")
    right.set_yscale("log")
    right.set_title("Open loop: latency at a fixed rate")
    right.legend()
    fig.tight_layout()
    fig.savefig(out / "relay.png", dpi=110)
    plt.close(fig)

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist([a * 1000 for a in r["desk"]["acks"]], bins=40, color="#1f6f8b")
    left.axvline(20, color="#c0392b", linestyle="--", label="target p99 20 ms")
    left.set_xlabel("webhook acknowledgement (ms)")
    left.set_yscale("log")
    left.set_title("Desk webhooks: time to 200 (open loop)")
    left.legend()
    labels = list(r["scale"])
    costs = [r["scale"][n][1] for n in labels]
    daemon = [c.per_1000(c.daemon_cpu) for c in costs]
    postgres = [c.per_1000(c.postgres_cpu) for c in costs]
    xs = range(len(labels))
    right.bar(xs, daemon, color="#1f6f8b", label="daemons")
    right.bar(xs, postgres, bottom=daemon, color="#99a8b2", label="PostgreSQL")
    right.set_xticks(list(xs), [n.replace(", ", "\n") for n in labels])
    right.set_ylabel("CPU seconds per 1,000 messages")
    right.set_title("Scale-out: what a message costs")
    right.legend()
    fig.tight_layout()
    fig.savefig(out / "desk-and-scaleout.png", dpi=110)
    plt.close(fig)
