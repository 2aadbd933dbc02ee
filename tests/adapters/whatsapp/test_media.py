"""Citizen media: downloaded once however often Meta (or a replay) sends the webhook,
streamed to a private file under the type's cap, and served by any instance."""

from __future__ import annotations

import json
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

from adapters.whatsapp import wire
from handover import events as ev
from tests.adapters.whatsapp.conftest import CITIZEN, Channel
from tests.adapters.whatsapp.test_webhook import PNG, messages

Factory = Callable[..., Awaitable[Channel]]


def files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir()) if directory.exists() else []


async def test_a_replayed_media_message_is_downloaded_and_stored_once(channel: Channel) -> None:
    fake = channel.fake
    fake.add_media("media-1", PNG, "image/png")
    body = json.dumps(fake.batch(fake.value([
        fake.media_message(CITIZEN, "image", "media-1", "image/png")]))).encode()
    outcomes = [(await fake.post(body))[1]["messages"] for _ in range(20)]
    assert outcomes[0] == {"applied": 1}
    assert all(o == {"duplicate": 1} for o in outcomes[1:])
    assert fake.downloads == ["media-1"]
    assert len(files(channel.adapter.options.media_dir)) == 1
    assert len(messages(channel)) == 1


async def test_media_files_are_private(channel: Channel) -> None:
    fake = channel.fake
    fake.add_media("media-1", PNG, "image/png")
    await fake.post(fake.batch(fake.value([
        fake.media_message(CITIZEN, "image", "media-1", "image/png")])))
    directory = channel.adapter.options.media_dir
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    [file] = files(directory)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


async def test_a_medium_larger_than_its_size_said_is_cut_off_while_streaming(
    channel: Channel,
) -> None:
    fake = channel.fake
    big = PNG + b"\0" * (wire.MEDIA_LIMITS["image"] + 1)
    fake.add_media("liar", big, "image/png", declared_size=len(PNG))
    body = json.dumps(fake.batch(fake.value([
        fake.media_message(CITIZEN, "image", "liar", "image/png")]))).encode()
    answer = await fake.post(body)
    assert answer[1]["messages"] == {"media_refused": 1}
    assert fake.downloads == ["liar"]
    assert files(channel.adapter.options.media_dir) == []
    # A replay is refused again without downloading again, and told politely once.
    assert (await fake.post(body))[1]["messages"] == {"media_refused": 1}
    assert fake.downloads == ["liar"]
    assert len(fake.texts()) == 1


async def test_deeply_nested_json_is_a_400(channel: Channel) -> None:
    for deep in (b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 20_000 + b"1" + b"}" * 20_000):
        status, answer = await channel.fake.post(deep)
        assert status == 400, answer
    assert messages(channel) == []


async def test_another_instance_serves_the_medium_by_fetching_it_again(
    channel_factory: Factory, tmp_path: Path,
) -> None:
    a = await channel_factory()
    b = await channel_factory(media_dir=tmp_path / "media-b")
    b.ctx.state = a.ctx.state
    b.ctx.conversations = a.ctx.conversations
    fake = a.fake
    fake.add_media("media-1", PNG, "image/png")
    await fake.post(fake.batch(fake.value([  # to B, the webhook's instance
        fake.media_message(CITIZEN, "image", "media-1", "image/png")])))
    (msg,) = b.ctx.events_of(ev.CitizenMessage)
    token = msg.content.attachments[0].url.rsplit("/", 1)[1]
    resp = await a.client.get(f"/wa/media/{token}")  # the agent's click lands on A
    assert resp.status == 200 and await resp.read() == PNG
    assert resp.headers["Content-Type"] == "image/png"
    assert fake.downloads == ["media-1", "media-1"]
    assert (await a.client.get(f"/wa/media/{token}")).status == 200
    assert fake.downloads == ["media-1", "media-1"]  # A keeps its copy
    # A medium Meta no longer has, or that is no longer what was checked, is not served.
    fake.media["media-1"] = (b"MZ" + b"\0" * 62, "image/png")
    (a.adapter.options.media_dir / token).unlink()
    assert (await a.client.get(f"/wa/media/{token}")).status == 404
    del fake.media["media-1"]
    assert (await a.client.get(f"/wa/media/{token}")).status == 404
