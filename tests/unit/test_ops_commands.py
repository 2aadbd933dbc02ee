"""The operations commands on conversations made by a real daemon run.

A daemon with the memory adapters, a real SQLite file and a fake clock plays a day of a
municipality's livechat, with personal data planted in what citizens, agents and the
channel say. Then `handover report`, `nps export`, `transcripts sample` and `purge`
run as an operator would, on the same file and the same configuration.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from handover.cli.main import main
from handover.clock import FakeClock
from handover.metrics import REGISTRY
from handover.model import thread_id
from tests.harness import TENANT, Running, running

# Planted personal data: none of it may appear in a sampled export.
PLANTED = (
    "Jan", "Vries", "111222333", "jan.devries@example.nl", "NL91ABNA0417164300",
    "06-12345678", "0612345678", "Sanne", "Jansen", "Piet", "citizen-jan", "31699887766",
)  # fmt: skip

EXTRA: dict[str, Any] = {
    "adapters": {"app": {"type": "memory_channel"}},
    "tenants": {
        TENANT: {
            "channels": ["chat", "app"],
            # Monday 2026-03-02 (the fake clock's first day), 08:00-17:00 in Amsterdam.
            "hours": {"monday": ["08:00-17:00"], "tuesday": [], "wednesday": [],
                      "thursday": [], "friday": [], "saturday": [], "sunday": []},
        }
    },
}  # fmt: skip

CONFIG = """
[store]
engine = "sqlite"
path = "handover.db"

[adapters.chat]
type = "memory_channel"
[adapters.app]
type = "memory_channel"
[adapters.bot]
type = "memory_bot"
[adapters.desk]
type = "memory_desk"

[tenants.test]
name = "Gemeente Test"
channels = ["chat", "app"]
bot = "bot"
desk = "desk"
[tenants.test.handover]
phone = "14 012"
"""


async def advance(r: Running, clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    r.daemon.timers.wake()
    await asyncio.sleep(0.02)
    await r.settle()


async def play_a_day(tmp: Path) -> None:
    clock = FakeClock()  # Monday 2026-03-02 10:00 in Amsterdam
    async with running(tmp, EXTRA, clock) as r:
        app = r.daemon.adapters["app"]
        assert hasattr(app, "open")
        # 1. chat: personal data everywhere, answered after 30 s, NPS 9 with a comment.
        c1 = await r.chat.ctx.resolve_conversation(
            TENANT, "citizen-jan", "nl", {"name": "Jan de Vries", "phone": "0612345678"}
        )
        await r.chat.say(c1.id, "Ik ben Jan de Vries, BSN 111222333, jan.devries@example.nl")
        await r.settle()
        await r.chat.request_agent(c1.id)
        t1 = thread_id(c1.id, 1)
        await r.desk.wait_for(lambda: t1 in r.desk.threads)
        await advance(r, clock, 30)
        await r.desk.join(t1, "Sanne Jansen")
        await r.desk.reply(t1, "Goedemiddag Jan, u spreekt met Sanne.")
        await r.chat.say(c1.id, "Mijn IBAN is NL91ABNA0417164300, bel me op 06-12345678")
        await r.settle()
        await r.desk.close(t1, "resolved")
        await r.settle()
        await r.chat.say(c1.id, "9")
        await r.chat.say(c1.id, "Sanne hielp Jan snel")
        await r.settle()
        # 2. app: answered after 60 s by an agent who never writes, NPS 3.
        c2 = await app.open(TENANT, "31699887766")  # type: ignore[attr-defined]
        await app.request_agent(c2.id)  # type: ignore[attr-defined]
        t2 = thread_id(c2.id, 1)
        await r.desk.wait_for(lambda: t2 in r.desk.threads)
        await advance(r, clock, 60)
        await r.desk.join(t2, "Piet")
        await r.settle()
        await r.desk.close(t2, "referred")
        await r.settle()
        await app.say(c2.id, "3")  # type: ignore[attr-defined]
        await app.say(c2.id, "Te lang gewacht")  # type: ignore[attr-defined]
        await r.settle()
        # 3. chat: the citizen gives up after 10 s in the queue.
        c3 = await r.chat.open(TENANT)
        await r.chat.request_agent(c3.id)
        await r.desk.wait_for(lambda: thread_id(c3.id, 1) in r.desk.threads)
        await advance(r, clock, 10)
        await r.chat.leave(c3.id)
        await r.settle()
        # 4. chat: the bot answers, no handover.
        c4 = await r.chat.open(TENANT)
        await r.chat.say(c4.id, "Wanneer wordt het afval opgehaald?")
        await r.settle()
        # 5. chat: a request at 20:00, after closing time.
        await advance(r, clock, 10 * 3600)
        c5 = await r.chat.open(TENANT)
        await r.chat.request_agent(c5.id)
        await r.settle()


@pytest.fixture
async def played(tmp_path: Path) -> Path:
    await play_a_day(tmp_path)
    config = tmp_path / "handover.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_report_counts_a_day(played: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ("--config", str(played), "--tenant", TENANT, "--period", "2026-03-02")
    code, out, _ = await asyncio.to_thread(run, capsys, "report", *base, "--format", "json")
    assert code == 0
    channels = json.loads(out)["channels"]
    every, chat, app = channels["all"], channels["chat"], channels["app"]
    assert (every["conversations"], every["handed_over"], every["queued"]) == (5, 3, 3)
    assert every["handover_share"] == 0.6 and every["answered"] == 2
    assert every["wait_seconds"] == {"p50": 30.0, "p75": 60.0, "p90": 60.0, "p95": 60.0}
    assert (every["abandoned_while_waiting"], every["abandoned_share"]) == (1, 0.3333)
    assert every["outside_hours_requests"] == 1
    assert every["nps"] == {"nps": 0.0, "answered": 2, "promoters": 1, "passives": 0,
                            "detractors": 1, "unanswered": 0}  # fmt: skip
    assert (chat["conversations"], chat["handed_over"], chat["nps"]["nps"]) == (4, 2, 100.0)
    assert (app["conversations"], app["wait_seconds"]["p50"], app["nps"]["nps"]) == (1, 60, -100)

    code, text, _ = await asyncio.to_thread(run, capsys, "report", *base)
    assert code == 0
    assert "share handed over" in text and "60.0%" in text

    # Another day has nothing.
    code, out, _ = await asyncio.to_thread(
        run, capsys, "report", "--config", str(played), "--tenant", TENANT,
        "--period", "2026-03-03", "--format", "json",
    )  # fmt: skip
    assert json.loads(out)["channels"]["all"]["conversations"] == 0


async def test_nps_export(played: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ("nps", "export", "--config", str(played), "--tenant", TENANT, "--period", "2026-03")
    code, out, err = await asyncio.to_thread(run, capsys, *base)
    assert code == 0 and "2 survey answer(s)" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["channel"], r["score"], r["category"], r["outcome"]) for r in rows] == [
        ("chat", "9", "promoter", "resolved"), ("app", "3", "detractor", "referred"),
    ]  # fmt: skip
    # The comment is kept for its reasons, without the names in it.
    assert [r["comment"] for r in rows] == ["[NAME] hielp [NAME] snel", "Te lang gewacht"]

    target = played.parent / "nps.jsonl"
    code, _, _ = await asyncio.to_thread(
        run, capsys, *base, "--format", "jsonl", "--output", str(target)
    )
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert code == 0 and [x["score"] for x in lines] == [9, 3]
    assert target.stat().st_mode & 0o077 == 0  # readable by its owner only


async def test_sample_holds_none_of_the_planted_personal_data(
    played: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("transcripts", "sample", "--config", str(played), "--tenant", TENANT,
            "--period", "2026-03-02")  # fmt: skip
    code, out, err = await asyncio.to_thread(run, capsys, *base, "--count", "10", "--seed", "1")
    assert code == 0 and "5 conversation(s)" in err
    for planted in PLANTED:
        assert planted.lower() not in out.lower(), planted
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["channel"] for r in records] == ["chat", "app", "chat", "chat", "chat"]
    first = records[0]
    texts = [e["text"] for e in first["transcript"]]
    assert "Ik ben [NAME], BSN [BSN], [EMAIL]" in texts
    assert "Mijn IBAN is [IBAN], bel me op [PHONE]" in texts
    assert "Goedemiddag [NAME], u spreekt met [NAME]." in texts
    assert first["context"] == {}
    assert first["handovers"] == [{
        "handover_no": 1, "reason": "citizen_request", "queued_at": first["handovers"][0]["queued_at"],
        "wait_seconds": 30.0, "events": ["queued", "answered", "ended"], "outcome": "resolved",
    }]  # fmt: skip
    assert [(s["score"], s["comment"]) for s in first["survey"]] == [(9, "[NAME] hielp [NAME] snel")]
    assert records[2]["handovers"][0]["events"] == ["queued", "abandoned"]
    assert records[4]["handovers"][0]["events"] == ["outside_hours"]

    code, out, _ = await asyncio.to_thread(
        run, capsys, *base, "--rate", "0.5", "--handovers-only", "--seed", "3"
    )
    picked = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(picked) == 2  # half of the three handed over, rounded
    assert all("queued" in r["handovers"][0]["events"] for r in picked)


async def test_purge_removes_bodies_and_the_report_still_adds_up(
    played: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The fake day lies months before the real clock `handover purge` uses, past the
    # default 30 days of bodies and within the 365 days of metadata.
    code, out, _ = await asyncio.to_thread(run, capsys, "purge", "--config", str(played))
    assert code == 0 and out == "test: bodies removed from 5 conversation(s), 0 conversation(s) deleted\n"
    code, out, _ = await asyncio.to_thread(run, capsys, "purge", "--config", str(played))
    assert out == "test: bodies removed from 0 conversation(s), 0 conversation(s) deleted\n"

    base = ("--config", str(played), "--tenant", TENANT, "--period", "2026-03-02")
    code, out, _ = await asyncio.to_thread(
        run, capsys, "transcripts", "sample", *base, "--count", "5"
    )
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["bodies_purged"] for r in records] == [True] * 5
    assert all(r["transcript"] == [] for r in records)
    assert records[0]["survey"][0]["comment"] is None
    code, out, _ = await asyncio.to_thread(run, capsys, "report", *base, "--format", "json")
    every = json.loads(out)["channels"]["all"]
    assert (every["conversations"], every["handed_over"], every["nps"]["nps"]) == (5, 3, 0.0)


async def test_commands_refuse_bad_input_clearly(
    played: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await asyncio.to_thread(
        run, capsys, "report", "--config", str(played), "--tenant", "nowhere", "--period", "2026-03"
    )
    assert code == 1 and "unknown tenant 'nowhere'; configured: test" in err
    code, _, err = await asyncio.to_thread(
        run, capsys, "report", "--config", str(played), "--tenant", TENANT, "--period", "march"
    )
    assert code == 1 and "expected YYYY-MM" in err
    code, _, err = await asyncio.to_thread(
        run, capsys, "transcripts", "sample", "--config", str(played), "--tenant", TENANT,
        "--period", "2026-03", "--rate", "2",
    )  # fmt: skip
    assert code == 1 and "rate must be in (0, 1]" in err
    with pytest.raises(SystemExit):
        main(["transcripts", "sample", "--config", str(played), "--tenant", TENANT,
              "--period", "2026-03"])  # fmt: skip


async def test_metrics_count_nps_per_channel_and_queue_waits(tmp_path: Path) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"tenant": TENANT, **labels}) or 0.0

    probes = {
        "promoter_chat": ("handover_survey_answers_total", {"channel": "chat", "category": "promoter"}),
        "detractor_app": ("handover_survey_answers_total", {"channel": "app", "category": "detractor"}),
        "answered_waits": ("handover_queue_wait_seconds_count", {"outcome": "answered"}),
        "answered_wait_sum": ("handover_queue_wait_seconds_sum", {"outcome": "answered"}),
        "abandoned_waits": ("handover_queue_wait_seconds_count", {"outcome": "abandoned"}),
    }  # fmt: skip
    before = {k: sample(name, **labels) for k, (name, labels) in probes.items()}
    await play_a_day(tmp_path)
    delta = {k: sample(name, **labels) - before[k] for k, (name, labels) in probes.items()}
    assert delta == {
        "promoter_chat": 1, "detractor_app": 1, "answered_waits": 2, "answered_wait_sum": 90,
        "abandoned_waits": 1,
    }  # fmt: skip
