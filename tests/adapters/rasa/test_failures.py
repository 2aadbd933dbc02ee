"""Rasa unreachable, erroring, slow or silent: each failure gets the class that drives the
core's retry rules and the tenant's bot-failure policy. A turn that may have reached
Rasa is never sent twice."""

from __future__ import annotations

import socket

import pytest

from adapters.rasa.adapter import TURNS, EmptyAnswer
from handover.sdk.errors import (
    AmbiguousSendError,
    AuthError,
    PermanentError,
    TransientError,
)
from tests.adapters.rasa.conftest import NAME, Harness, counter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_unreachable_rasa_is_transient(rasa: Harness) -> None:
    await rasa.make(url=f"http://127.0.0.1:{free_port()}")
    before = counter(TURNS, adapter=NAME, result="transient")
    with pytest.raises(TransientError):
        await rasa.turn(rasa.conversation(), "Hallo")
    assert counter(TURNS, adapter=NAME, result="transient") == before + 1


async def test_a_500_is_ambiguous_and_sent_once(rasa: Harness) -> None:
    await rasa.make()
    rasa.fake.fail_next(500)
    before = counter(TURNS, adapter=NAME, result="ambiguous")
    with pytest.raises(AmbiguousSendError):
        await rasa.turn(rasa.conversation(), "Hallo")
    assert len(rasa.fake.received) == 1  # no in-request retry after the body was sent
    assert counter(TURNS, adapter=NAME, result="ambiguous") == before + 1


async def test_a_slow_answer_times_out_as_ambiguous(rasa: Harness) -> None:
    await rasa.make(turn_timeout_seconds=0.2)
    rasa.fake.delay_next(1.0)
    with pytest.raises(AmbiguousSendError):
        await rasa.turn(rasa.conversation(), "Hallo")
    assert len(rasa.fake.received) == 1


async def test_a_dropped_connection_after_sending_is_ambiguous(rasa: Harness) -> None:
    await rasa.make()
    rasa.fake.drop_next()
    with pytest.raises(AmbiguousSendError):
        await rasa.turn(rasa.conversation(), "Hallo")
    assert len(rasa.fake.received) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, TransientError), (503, TransientError), (401, AuthError), (403, AuthError),
     (400, PermanentError), (404, PermanentError), (502, AmbiguousSendError)],
)
async def test_status_classes(rasa: Harness, status: int, error: type[Exception]) -> None:
    await rasa.make()
    rasa.fake.fail_next(status)
    with pytest.raises(error) as exc:
        await rasa.turn(rasa.conversation(), "Hallo")
    assert type(exc.value) is error


async def test_empty_answer_without_tracker_is_a_failure_by_default(rasa: Harness) -> None:
    await rasa.make()
    rasa.fake.empty_next()
    before = counter(TURNS, adapter=NAME, result="empty")
    with pytest.raises(EmptyAnswer):
        await rasa.turn(rasa.conversation(), "Hallo")
    assert counter(TURNS, adapter=NAME, result="empty") == before + 1
    # Never resent: the core dead-letters it as ambiguous and applies the policy.
    assert isinstance(EmptyAnswer("x"), AmbiguousSendError)


async def test_empty_answer_as_silence_when_configured(rasa: Harness) -> None:
    await rasa.make(empty_answer="silence")
    rasa.fake.empty_next()
    response = await rasa.turn(rasa.conversation(), "Hallo")
    assert response.messages == () and response.handover is None


async def test_tracker_tells_a_timeout_from_a_silent_bot(rasa: Harness) -> None:
    await rasa.make(api=True, empty_answer="silence")
    conv = rasa.conversation()
    # Rasa's internal timeout: the turn is in the tracker, its handling never ended.
    rasa.fake.empty_next()
    with pytest.raises(EmptyAnswer, match="unfinished"):
        await rasa.turn(conv, "Hallo", message_id="m-1")
    # A bot that handled the turn and chose to say nothing.
    rasa.fake.answer_next([])
    response = await rasa.turn(conv, "...", message_id="m-2")
    assert response.messages == ()


async def test_tracker_unreachable_falls_back_to_empty_answer_setting(rasa: Harness) -> None:
    await rasa.make(api=True, empty_answer="failure")
    rasa.fake.api_token = "required"
    rasa.fake.answer_next([])
    with pytest.raises(EmptyAnswer):
        await rasa.turn(rasa.conversation(), "Hallo")


async def test_health_check_probes_the_rasa_server(rasa: Harness) -> None:
    bot = await rasa.make()
    await bot.check_health()
    await rasa.fake.stop()
    with pytest.raises(Exception):  # noqa: B017 (any failure marks the upstream down)
        await bot.check_health()
