"""SIGKILL around the callback request's durable steps: the step that writes the
registration, its delivery to the target and the target's confirmation.

Like test_crash_points.py, each case runs the scenario against a daemon subprocess
armed with HANDOVER_CRASH_AT, restarts it after the crash, resends what was not
acknowledged, and compares with an uninterrupted run: the citizen sees the same
messages, and the target receives one request (resent at most, always with the same id
and reference, never a second request).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.crash_scenarios import Survivor
from tests.e2e.daemon_process import CONFIG, DaemonProcess

pytestmark = pytest.mark.slow

#: The demo tenant closed at all times (no opening hours), offering callback requests
#: registered at a memory target that logs every offer to a file.
CALLBACK_CONFIG = CONFIG.replace(
    'desk = "desk"\n', 'desk = "desk"\nregistries = ["register"]\n'
) + """
[adapters.register]
type = "memory_registry"
path = "{data}/registry.jsonl"

[tenants.demo.hours]
timezone = "Europe/Amsterdam"

[tenants.demo.callback]
enabled = true
"""

ANSWERS = [("ja", "c2"), ("0612345678", "c3"), ("Jan", "c4"), ("Mijn vraag", "c5")]

#: router.after_commit:6 is the step of the last answer (it writes the registration);
#: :7 is the target's confirmation (the delivery's follow-up).
CASES = [
    "router.after_commit:6",
    "router.after_commit:7",
    "delivery.before_send@registry.callback",
    "delivery.after_send@registry.callback",
    # The confirmation removes the item in its own transaction: there is no separate
    # completion (delivery.after_complete) to crash after.
    "delivery.after_follow_up@registry.callback",
]


async def take_request(s: Survivor) -> None:
    await s.say("Ik wil een medewerker spreken", "c1")

    async def offered() -> bool:
        return await s.state() == "callback"

    await s.until(offered, "the callback offer")
    for text, message_id in ANSWERS:
        await s.say(text, message_id)

    async def registered() -> bool:
        return registry_log(s.d) != [] and await s.state() == "bot" and await s.outbox_empty()

    await s.until(registered, "the registration")


def registry_log(d: DaemonProcess) -> list[dict[str, Any]]:
    path = d.data / "registry.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def run(tmp: Path, crash_at: str | None) -> dict[str, Any]:
    d = DaemonProcess(tmp, template=CALLBACK_CONFIG)
    await d.start()
    try:
        async with aiohttp.ClientSession() as http:
            s = Survivor(d, http)
            await s.citizen.open()
            if crash_at is not None:
                d.terminate()
                await d.start(crash_at=crash_at)
            await take_request(s)
            seen = await s.seen_by_citizen()
            log = registry_log(d)
            references = {e["detail"] for e in log}
            said = [(m["party"], m["content"]["text"]) for m in seen["messages"]]
            # The reference is random per run: compare the texts around it.
            masked = [(p, re.sub(r"\b[A-Z0-9]{6}\b", "<ref>", t)) for p, t in said]
            return {
                "crashes": s.crashes,
                "citizen": masked,
                "references": references,
                "told": [t for _, t in said if any(r in t for r in references)],
                "ids": {e["id"] for e in log},
                "offers": len(log),
                "seqs": [m["seq"] for m in seen["messages"]],
                "dead": await s.dead_letters(),
            }
    finally:
        d.terminate()


_reference: dict[str, Any] = {}


@pytest.mark.parametrize("crash_at", CASES)
async def test_kill_around_the_registration_then_one_request_arrives(
    tmp_path: Path, crash_at: str
) -> None:
    if not _reference:
        _reference.update(await run(tmp_path / "reference", None))
    expected = _reference
    assert expected["offers"] == 1 and len(expected["told"]) == 1
    got = await run(tmp_path / "armed", crash_at)
    assert got["crashes"] == 1, (f"the daemon never passed {crash_at}", got)
    # One request: every copy the target got has the same id and reference, the one
    # the citizen was told (once).
    assert len(got["ids"]) == 1 and len(got["references"]) == 1
    assert len(got["told"]) == 1
    # A copy is resent only when the crash came after the target had it and before the
    # target's confirmation was recorded (the target is resend-safe: it looks the id
    # up). The confirmation removes the item in the same transaction, so a crash after
    # it resends nothing.
    resent = crash_at in {"delivery.after_send@registry.callback"}
    assert got["offers"] == (2 if resent else 1)
    assert got["citizen"] == expected["citizen"]
    assert got["seqs"] == sorted(set(got["seqs"]))
    assert got["dead"] == []
