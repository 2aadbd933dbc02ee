"""REPORT.md and its plots, from the figures report.py gathered in one run."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any

import plots
import relay
import scaleout
from efficiency import Cost

LOAD_AT_START = " ".join(f"{x:.2f}" for x in os.getloadavg())
GIB_KIB = 1024 * 1024
IDLE_TARGET = 50_000
#: "Near zero" for the contention counters: at most this many per 1,000 messages (1%).
CONTENTION_NEAR_ZERO = 10.0


def pct(values: list[float], p: float) -> float:
    return relay.Figures(latencies=values).pct(p)


def verdict(measured: float, target: float, lower_is_better: bool, why: str = "") -> str:
    """"met", or "missed (how far off): why"."""
    ok = measured <= target if lower_is_better else measured >= target
    if ok:
        return "met"
    factor = measured / target if lower_is_better else target / measured
    return f"missed ({factor:.1f}x off)" + (f": {why}" if why else "")


def _mem_total_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def targets(r: dict[str, Any]) -> list[str]:
    s, rel, dsk, idle, scale = r["sizes"], r["relay"], r["desk"], r["idle"], r["scale"]
    durable, bare = rel["closed"]["durable"], rel["closed"]["bare"]
    ratio = durable.per_second / bare.per_second
    top = max(r["rates"])
    d99, b99 = rel["paced"][("durable", top)].pct(99), rel["paced"][("bare", top)].pct(99)
    overhead = d99 - b99
    sqlite, one, two = (scale["SQLite, 1 instance"], scale[scaleout.ONE_PG],
                        scale[scaleout.TWO_PG])
    pg_ratio = one[0].per_second / sqlite[0].per_second
    ack99 = pct(dsk["acks"], 99)
    offered = len(dsk["acks"]) / s.webhook_seconds
    before, after = idle["daemon"]
    per_socket = (after - before) / s.idle
    projected = before + per_socket * IDLE_TARGET
    cost: Cost = rel["cost"]
    tx = cost.per_message("transactions")
    cpu = scaleout.cpu_ratio(one[1], two[1])
    contention = {k: two[1].count_per_1000(k) for k in ("conflicts", "steals", "retries")}
    worst = max((v for v in contention.values() if v is not None), default=0.0)
    paced = rel["paced"][("durable", top)]
    answered = len(dsk["acks"]) / dsk["webhook_seconds"]
    delivery_rate = s.pending / dsk["delivered"] if dsk["delivered"] else 0.0
    rows = [
        ("closed loop: durable messages/s at least 0.5x the bare relay's",
         f"{ratio:.2f}x ({durable.per_second:.0f}/s vs {bare.per_second:.0f}/s)",
         verdict(ratio, 0.5, False, "each message waits for durable commits the bare relay "
                 "does not make (see where the time goes)")),
        (f"open loop: p99 overhead under 50 ms at {top:,} messages/s offered",
         f"{overhead:.0f} ms (durable p99 {d99:.0f} ms - bare p99 {b99:.0f} ms)",
         verdict(max(overhead, 0.01), 50, True,
                 f"the daemon completed {paced.per_second:.0f}/s of the {top}/s offered, so "
                 "requests queued" if paced.per_second < 0.95 * top
                 else "latency beyond queueing (see where the time goes)")),
        ("PostgreSQL, one instance: messages/s at least 0.6x SQLite's",
         f"{pg_ratio:.2f}x ({one[0].per_second:.0f}/s vs {sqlite[0].per_second:.0f}/s)",
         verdict(pg_ratio, 0.6, False, "each step's statements are round trips to the "
                 "server (see PostgreSQL's CPU per message below)")),
        (f"webhook acknowledgement p99 under 20 ms at {s.webhook_rate:,.0f}/s offered "
         "(open loop, 8 in flight)",
         f"{ack99:.1f} ms ({len(dsk['acks'])} webhooks in {dsk['webhook_seconds']:.1f} s for "
         f"{s.webhook_seconds:g} s offered at {offered:,.0f}/s)",
         verdict(ack99, 20, True, f"answered {answered:,.0f}/s of the "
                 f"{s.webhook_rate:,.0f}/s offered, so webhooks queued (the sender shares "
                 "the cores)" if answered < 0.95 * s.webhook_rate else "")),
        ("50,000 idle widget sockets in under 1 GiB",
         f"{projected / 1024:.0f} MiB ({'measured' if s.idle >= IDLE_TARGET else 'extrapolated'}"
         f" from {s.idle:,} sockets: {before / 1024:.0f} MiB + {per_socket:.1f} KiB each)",
         verdict(projected / GIB_KIB, 1.0, True, f"{per_socket:.1f} KiB per socket; 1 GiB "
                 f"holds 50,000 below {(GIB_KIB - before) / IDLE_TARGET:.1f} KiB each")),
        (f"recovery after SIGKILL: {s.pending:,} pending delivered within 5 s",
         f"{dsk['delivered']:.2f} s after the restart (ready after {dsk['ready']:.2f} s; "
         f"accepted twice: {dsk['doubles']})",
         verdict(dsk["delivered"], 5, True, f"delivered at {delivery_rate:,.0f}/s; "
                 f"{s.pending:,} in 5 s needs {s.pending / 5:,.0f}/s")),
        ("store transactions per relayed message at most 2",
         "not measured" if tx is None else f"{tx:.2f}",
         "not measured: the daemon has no handover_store_transactions_total yet"
         if tx is None else verdict(tx, 2, True)),
        ("scale-out: two instances' daemon CPU per message within 1.2x one instance's",
         f"{cpu:.2f}x ({two[1].per_1000(two[1].daemon_cpu):.2f} vs "
         f"{one[1].per_1000(one[1].daemon_cpu):.2f} CPU s per 1,000 messages)",
         verdict(cpu, 1.2, True, "the second instance's empty claims and hand-offs "
                 "(next row)")),
        ("scale-out: contention near zero with two instances (each counter at most "
         f"{CONTENTION_NEAR_ZERO:g} per 1,000 messages)",
         ", ".join(f"{k} {two[1].describe(k)}" for k in contention) + " per 1,000",
         verdict(max(worst, 0.01), CONTENTION_NEAR_ZERO, True,
                 "a step's NOTIFY for items it did not lease itself wakes every "
                 "instance, and all but one claim in vain (bench/README.md)")),
    ]
    lines = []
    if os.getloadavg()[0] > 1.0 or float(LOAD_AT_START.split()[0]) > 1.0:
        lines += ["Other work shared the cores during this run (see the load average above): "
                  "the figures are noisy, and latencies most of all.", ""]
    lines += ["| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in rows]
    return lines


def relay_section(r: dict[str, Any]) -> list[str]:
    s, rel = r["sizes"], r["relay"]
    durable, bare = rel["closed"]["durable"], rel["closed"]["bare"]
    lines = [
        "## Relay: the durable daemon next to a bare relay",
        "",
        f"Closed loop: {s.conversations} citizens on the REST channel, {s.messages} messages "
        "each, each waiting for the demo bot's reply (long-poll). A round trip relays two "
        "messages. The bare relay serves the same HTTP paths from memory with the same bot "
        "logic and no persistence: the floor for what the hops cost.",
        "",
        "| figure | durable (daemon, SQLite) | bare relay |",
        "|---|---|---|",
        f"| messages/s | {durable.per_second:.0f} | {bare.per_second:.0f} |",
        f"| round trip p50 (ms) | {durable.pct(50):.1f} | {bare.pct(50):.1f} |",
        f"| round trip p99 (ms) | {durable.pct(99):.1f} | {bare.pct(99):.1f} |",
        f"| daemon CPU s per 1,000 messages | "
        f"{rel['cost'].per_1000(rel['cost'].daemon_cpu):.2f} | |",
        f"| store transactions per message | {rel['cost'].describe('transactions', '1')} | |",
        "",
        f"Open loop: round trips started at a fixed rate for {s.paced_seconds:g} s; latency "
        "from the scheduled start (queueing included).",
        "",
        "| offered (messages/s) | durable p50 | durable p99 | bare p50 | bare p99 | "
        "overhead p99 |",
        "|---|---|---|---|---|---|",
    ]
    for rate in r["rates"]:
        d, b = rel["paced"][("durable", rate)], rel["paced"][("bare", rate)]
        lines.append(f"| {rate} | {d.pct(50):.1f} | {d.pct(99):.1f} | {b.pct(50):.1f} | "
                     f"{b.pct(99):.1f} | {d.pct(99) - b.pct(99):.1f} |")
    return [*lines, "", "![relay](relay.png)", ""]


def desk_section(r: dict[str, Any]) -> list[str]:
    s, dsk = r["sizes"], r["desk"]
    acks = dsk["acks"]
    return [
        "## Desk webhooks and recovery",
        "",
        f"Signed OBI4wan `message.created` webhooks over {s.threads} joined conversations, "
        f"offered at {s.webhook_rate:,.0f}/s for {s.webhook_seconds:g} s by 8 senders (open "
        "loop: latency from each webhook's scheduled time, the wait for a free sender "
        f"included). {len(acks)} answered in {dsk['webhook_seconds']:.1f} s; acknowledgement "
        f"p50 {pct(acks, 50):.1f} ms, p95 {pct(acks, 95):.1f} ms, p99 {pct(acks, 99):.1f} ms "
        "(verified, deduplicated and committed before the 200). The sender (the fake desk, "
        "signing each webhook) runs in the benchmark's process on the same 2 cores.",
        "",
        f"Recovery: {s.pending:,} citizen messages acknowledged and pending for a hanging desk; "
        f"SIGKILL; the desk recovers; restart. Ready {dsk['ready']:.2f} s after the spawn, "
        f"all {s.pending:,} at the desk {dsk['delivered']:.2f} s after it, accepted twice: "
        f"{dsk['doubles']}.",
        "",
    ]


def idle_section(r: dict[str, Any]) -> list[str]:
    s, idle = r["sizes"], r["idle"]
    (db, da), (bb, ba) = idle["daemon"], idle["bare"]
    own = idle["own"]
    lines = [
        "## Idle widget sockets",
        "",
        f"{s.idle:,} widget websockets held open (after 200 opened first, so one-time "
        "allocations are not counted), each with its own new conversation on the daemon. "
        "The bare server (`bench/bare_ws.py`) answers the same path with the same "
        "websocket settings and no middlewares, conversation or store: aiohttp's own cost.",
        "",
        "| server | RSS before | RSS while held | per socket |",
        "|---|---|---|---|",
        f"| daemon | {db / 1024:.0f} MiB | {da / 1024:.0f} MiB | {(da - db) / s.idle:.1f} KiB |",
        f"| bare aiohttp | {bb / 1024:.0f} MiB | {ba / 1024:.0f} MiB | "
        f"{(ba - bb) / s.idle:.1f} KiB |",
        "",
        f"tracemalloc on a daemon holding {own.sockets:,} sockets: {own.traced:,.0f} bytes "
        f"of Python allocations per socket, of which {own.own:,.0f} at lines of the daemon's "
        "own code (handover/, adapters/); the rest is aiohttp's and asyncio's (the parsed "
        "upgrade request, the websocket reader and writer, the transport). Per socket:",
        "",
        "| bytes | blocks | allocated at |",
        "|---|---|---|",
    ]
    lines += [f"| {b:,.0f} | {n:.2f} | `{where}` |" for b, n, where in own.lines[:24]]
    return [*lines, ""]


def scale_section(r: dict[str, Any]) -> list[str]:
    s = r["sizes"]
    return [
        "## Scale-out on PostgreSQL",
        "",
        f"{s.scale_conversations} citizens x {s.scale_messages} messages (closed loop). With "
        "two instances each citizen sticks to one; the rest is claimed by whichever is free. "
        "CPU seconds from /proc/<pid>/stat (all threads) over the measured load; "
        "PostgreSQL's include every backend. Counters from each daemon's /metrics: version "
        "conflicts retried, outbox leases taken from another instance, claims on news of "
        "work that found none. bench/README.md says what these predict for more instances.",
        "",
        "| figure | " + " | ".join(r["scale"]) + " |",
        "|---|" + "---|" * len(r["scale"]),
        *scaleout.cost_rows(r["scale"]),
        "",
        "![desk and scale-out](desk-and-scaleout.png)",
        "",
    ]


def write(out: Path, r: dict[str, Any]) -> Path:
    plots.draw(out, r)
    lines = [
        "# Benchmark report",
        "",
        f"Run: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, `make bench`"
        + (" (BENCH_QUICK: small loads, a smoke run; the figures show the code works, not "
           "what the daemon can do)" if r["quick"] else "") + ".",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {relay.cpu_model()}, {os.cpu_count()} cores |",
        f"| memory | {_mem_total_gib():.0f} GiB |",
        f"| OS | {platform.system()} {platform.release()} |",
        f"| Python | {platform.python_version()} |",
        f"| load average at start / end | {LOAD_AT_START} / "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (above ~0.5 at the start, other "
        "work shared the cores: the figures are noisy) |",
        "| store | SQLite (WAL, synchronous=FULL) in a temp dir; PostgreSQL on loopback, "
        "fsync off |",
        "| client | the load generators run on the same machine, in this process |",
        "",
        "## Targets",
        "",
        *targets(r),
        "",
        *relay_section(r),
        *desk_section(r),
        *idle_section(r),
        *scale_section(r),
        "## Where the time goes: every thread, sampled by py-spy",
        "",
        "The durable daemon (SQLite) under the closed-loop load of the relay section. Own "
        "time is the innermost frame of each sample. py-spy counts some waits as work (a "
        "thread blocked in a queue's `get`, such as `_worker (concurrent/futures/"
        "thread.py)` of an idle executor): the CPU seconds /proc counted per thread over "
        "the same load say what each thread really used. `profile.txt` beside this report "
        "has the collapsed stacks.",
        "",
        r["profile"],
        "",
    ]
    path = out / "REPORT.md"
    path.write_text("\n".join(lines))
    return path
