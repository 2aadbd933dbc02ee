"""The parts of `make bench` that turn raw output into the report: the counters read
from /metrics, CPU time from /proc, and py-spy's collapsed stacks. No timing here."""

from __future__ import annotations

import os
import sys
import xml.dom.minidom
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import efficiency  # from bench/, put on the path above
import pyspy_profile

PAGE = """\
# HELP handover_lease_steals_total Outbox leases taken from another owner.
# TYPE handover_lease_steals counter
handover_lease_steals_total{lease="expired"} 2.0
handover_lease_steals_total{lease="citizen_takeover"} 3.0
handover_lease_steals_created{lease="expired"} 1.7e+09
# TYPE handover_claim_retries counter
handover_claim_retries_total 7.0
# TYPE handover_version_conflicts counter
"""


def test_counters_are_summed_over_labels_declared_ones_are_zero_absent_ones_none() -> None:
    found = efficiency.parse_counters(PAGE)
    assert found == {"conflicts": 0.0, "steals": 5.0, "retries": 7.0, "transactions": None}


def test_a_cost_is_per_1000_messages_and_says_what_was_not_measured() -> None:
    before = efficiency.Snapshot(1.0, 0.5, {"conflicts": 0.0, "steals": 1.0, "retries": 2.0,
                                            "transactions": None})
    after = efficiency.Snapshot(3.0, 1.5, {"conflicts": 0.0, "steals": 3.0, "retries": 6.0,
                                           "transactions": None})
    cost = efficiency.Cost.between(before, after, relayed=500)
    assert cost.per_1000(cost.daemon_cpu) == pytest.approx(4.0)
    assert cost.per_1000(cost.postgres_cpu) == pytest.approx(2.0)
    assert cost.describe("retries") == "8.00"
    assert cost.describe("transactions", "1") == "not measured"


def test_cpu_time_of_this_process_and_its_threads_is_read_from_proc() -> None:
    spent = efficiency.process_cpu(os.getpid())
    sum(i * i for i in range(200_000))  # some CPU
    assert efficiency.process_cpu(os.getpid()) >= spent > 0
    threads = pyspy_profile.thread_cpu(os.getpid())
    assert str(os.getpid()) in threads  # the main thread's id is the process id


def test_py_spy_stacks_become_threads_top_frames_and_a_well_formed_flame_graph(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "thread (11): MainThread;main (a.py:1);loop (a.py:2);work (a.py:3) 6\n"
        "thread (11): MainThread;main (a.py:1);loop (a.py:2);send <&> (b.py:9) 2\n"
        "thread (12);Thread.run (threading.py:982);_write (handover/store/sqlite/writer.py:1) 4\n"
    )
    stacks = pyspy_profile.name_threads(pyspy_profile.parse_raw(raw))
    assert {s[0] for s in stacks} == {"MainThread (11)", "SQLite writer (12)"}
    table = pyspy_profile.top_table(stacks, {"11": 0.5})
    assert "| **MainThread (11)** | 8 | 67% | 0.50 | (all) |" in table
    assert "| **SQLite writer (12)** | 4 | 33% | ? | (all) |" in table
    assert "| | 6 | 50.0% | | `work (a.py:3)` |" in table
    svg = tmp_path / "flame.svg"
    pyspy_profile.flame_svg(Counter(stacks), svg)
    rects = xml.dom.minidom.parse(str(svg)).getElementsByTagName("rect")
    assert len(rects) == 1 + 5 + 3  # the background, the main tower, the writer tower
