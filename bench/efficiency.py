"""What a relayed message costs: CPU seconds of the daemons and of PostgreSQL, and the
contention counters of the daemons' /metrics, per 1,000 relayed messages.

Used by scaleout.py and report.py. On a machine with fewer cores than instances,
throughput cannot show what scale-out buys; CPU per message can: if two instances spend
about what one does per message, more cores give proportionally more throughput, until
the database or contention between the instances (the counters) sets the limit.

CPU time comes from /proc/<pid>/stat (utime + stime, all threads of the process). For
PostgreSQL it is the postmaster's own, plus what its ended children left to it
(cutime + cstime), plus every live child's (the backends of the pools, the WAL writer,
the checkpointer): the difference over the measured load is the server's share.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

TICKS = os.sysconf("SC_CLK_TCK")

#: The counters read from each daemon's /metrics (summed over labels and instances).
COUNTERS = {
    "conflicts": "handover_version_conflicts_total",
    "steals": "handover_lease_steals_total",
    "retries": "handover_claim_retries_total",
    # Added by the store's work on fewer transactions; "not measured" while absent.
    "transactions": "handover_store_transactions_total",
}


def _stat(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after it follow ")".
    return raw[raw.rindex(")") + 2:].split()


def process_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) a process used; with `children`, also what its
    ended and waited-for children used."""
    fields = _stat(pid)  # fields[0] is field 3 (state) of proc(5)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(_stat(int(entry.name))[1]) == pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return found


def postgres_cpu(data_dir: Path) -> float:
    """CPU seconds of a PostgreSQL cluster so far: the postmaster, its ended children
    and its live ones. 0 when the cluster is not running."""
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return 0.0
    postmaster = int(pid_file.read_text().split()[0])
    total = process_cpu(postmaster, children=True)
    for child in children_of(postmaster):
        try:
            total += process_cpu(child)
        except OSError:
            continue  # ended between listing and reading: counted in cutime next time
    return total


def parse_counters(text: str) -> dict[str, float | None]:
    """The contention counters from a Prometheus text page; None for absent metrics."""
    values: dict[str, float | None] = dict.fromkeys(COUNTERS)
    names = {metric: key for key, metric in COUNTERS.items()}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            # Declared: 0 until a sample shows (a labelled counter has none before its
            # first increment).
            # (prometheus_client names a counter's family without its `_total`.)
            declared = line.split()[2]
            key = names.get(declared) or names.get(f"{declared}_total")
            if key is not None and values[key] is None:
                values[key] = 0.0
            continue
        if line.startswith("#") or not line.strip():
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        key = names.get(name)
        if key is not None:
            values[key] = (values[key] or 0.0) + float(line.rsplit(" ", 1)[1])
    return values


async def counters(urls: list[str]) -> dict[str, float | None]:
    """The counters summed over the daemons at `urls`."""
    total: dict[str, float | None] = dict.fromkeys(COUNTERS)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        for url in urls:
            async with http.get(f"{url}/metrics") as resp:
                page = parse_counters(await resp.text())
            for key, value in page.items():
                if value is not None:
                    total[key] = (total[key] or 0.0) + value
    return total


@dataclass
class Snapshot:
    daemon_cpu: float
    postgres_cpu: float
    counters: dict[str, float | None] = field(default_factory=dict)


async def snapshot(pids: list[int], urls: list[str], pg_data: Path | None) -> Snapshot:
    return Snapshot(
        daemon_cpu=sum(process_cpu(pid) for pid in pids),
        postgres_cpu=postgres_cpu(pg_data) if pg_data is not None else 0.0,
        counters=await counters(urls),
    )


@dataclass
class Cost:
    """What `relayed` messages cost between two snapshots."""

    relayed: int
    daemon_cpu: float
    postgres_cpu: float
    counters: dict[str, float | None]

    @classmethod
    def between(cls, before: Snapshot, after: Snapshot, relayed: int) -> Cost:
        deltas: dict[str, float | None] = {}
        for key in COUNTERS:
            a, b = before.counters.get(key), after.counters.get(key)
            deltas[key] = None if a is None or b is None else b - a
        return cls(relayed, after.daemon_cpu - before.daemon_cpu,
                   after.postgres_cpu - before.postgres_cpu, deltas)

    def per_1000(self, seconds: float) -> float:
        return 1000 * seconds / self.relayed if self.relayed else float("nan")

    def count_per_1000(self, key: str) -> float | None:
        value = self.counters.get(key)
        return None if value is None or not self.relayed else 1000 * value / self.relayed

    def per_message(self, key: str) -> float | None:
        value = self.counters.get(key)
        return None if value is None or not self.relayed else value / self.relayed

    def describe(self, key: str, per: str = "1000") -> str:
        """A counter per 1,000 messages (or per message) for the report."""
        value = self.count_per_1000(key) if per == "1000" else self.per_message(key)
        return "not measured" if value is None else f"{value:.2f}"
