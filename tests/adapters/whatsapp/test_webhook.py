"""Meta's webhook: the handshake, signatures, batches, duplicates, and every message type."""

from __future__ import annotations

import asyncio
import json

from adapters.whatsapp.routes import INBOUND, MAX_WEBHOOK_BYTES
from handover import events as ev
from handover import metrics
from handover.model import Button, Content, Party
from tests.adapters.whatsapp.conftest import CITIZEN, Channel

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
       b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x01\x01\x01\x00"
       b"\x18\xdd\x8d\xb0\x00\x00\x00\x00IEND\xaeB`\x82")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def messages(c: Channel) -> list[ev.CitizenMessage]:
    return c.ctx.events_of(ev.CitizenMessage)


async def test_verification_handshake_echoes_the_challenge_only_for_our_token(
    channel: Channel,
) -> None:
    q = {"hub.mode": "subscribe", "hub.verify_token": "verify-1", "hub.challenge": "1158201444"}
    resp = await channel.client.get("/wa/webhook", params=q)
    assert resp.status == 200 and await resp.text() == "1158201444"
    resp = await channel.client.get("/wa/webhook", params={**q, "hub.verify_token": "guess"})
    assert resp.status == 403
    resp = await channel.client.get("/wa/webhook", params={**q, "hub.mode": "unsubscribe"})
    assert resp.status == 403


async def test_missing_or_wrong_signatures_are_refused_before_anything_is_read(
    channel: Channel,
) -> None:
    fake = channel.fake
    payload = fake.batch(fake.value([fake.text(CITIZEN, "Hallo")]))
    before = metrics.WEBHOOK_SIGNATURE_FAILURES.labels("wa")._value.get()
    assert (await fake.post(payload, sign=False))[0] == 401
    assert (await fake.post(payload, secret="another-app"))[0] == 401
    assert (await fake.post(payload, signature="sha256=zz"))[0] == 401
    # Signed, but the body changed on the way.
    raw = json.dumps(payload).encode()
    good = fake.batch(fake.value([fake.text(CITIZEN, "Hallo!")]))
    assert (await fake.post(raw, signature=_sig(fake.app_secret, json.dumps(good).encode())))[0] \
        == 401
    assert messages(channel) == []
    assert metrics.WEBHOOK_SIGNATURE_FAILURES.labels("wa")._value.get() == before + 4


async def test_both_app_secrets_are_accepted_during_a_rotation(channel_factory) -> None:  # type: ignore[no-untyped-def]
    c = await channel_factory(app_secrets=("app-secret-2", "app-secret-1"))
    fake = c.fake
    assert (await fake.post(fake.batch(fake.value([fake.text(CITIZEN, "oud")]))))[0] == 200
    status, _ = await fake.post(fake.batch(fake.value([fake.text(CITIZEN, "nieuw")])),
                                secret="app-secret-2")
    assert status == 200
    assert [m.content.text for m in messages(c)] == ["oud", "nieuw"]


async def test_oversize_and_malformed_bodies_get_clear_errors(channel: Channel) -> None:
    fake = channel.fake
    big = fake.batch(fake.value([fake.text(CITIZEN, "x" * (MAX_WEBHOOK_BYTES + 10))]))
    status, answer = await fake.post(big)
    assert status == 413 and answer["error"] == "body_too_large"
    status, answer = await fake.post({"object": "page", "entry": []})
    assert status == 400 and answer["error"] == "invalid_payload"
    status, answer = await fake.post(b"{not json")
    assert status == 400
    assert messages(channel) == []


async def test_every_entry_change_and_message_of_a_batch_is_handled_in_order(
    channel: Channel,
) -> None:
    fake = channel.fake
    other = "31687654321"
    payload = fake.batch(
        fake.value([fake.text(CITIZEN, "een"), fake.text(other, "A")]),
        fake.value([fake.text(CITIZEN, "twee")]),
        fake.value([fake.text(other, "B"), fake.text(CITIZEN, "drie")]),
        entries=2,
    )
    assert len(payload["entry"]) == 2
    status, answer = await fake.post(payload)
    assert status == 200 and answer["messages"] == {"applied": 5}
    by_conv: dict[str, list[str]] = {}
    for m in messages(channel):
        by_conv.setdefault(m.conversation_id, []).append(m.content.text)
    assert sorted(by_conv.values()) == [["A", "B"], ["een", "twee", "drie"]]
    keys = {c.channel_key for c in channel.ctx.conversations.values()}
    assert keys == {CITIZEN, other}
    # Every stored message is marked read (blue ticks), once.
    await fake.wait_for(lambda: len(fake.read) == 5)
    assert sorted(fake.read) == sorted(m.source_id for m in messages(channel))


async def test_a_resent_message_is_stored_once(channel: Channel) -> None:
    fake = channel.fake
    payload = fake.batch(fake.value([fake.text(CITIZEN, "Hallo", wamid="wamid.A1")]))
    assert (await fake.post(payload))[1]["messages"] == {"applied": 1}
    # Meta retries for days, also inside a later batch.
    again = fake.batch(fake.value([fake.text(CITIZEN, "Hallo", wamid="wamid.A1"),
                                   fake.text(CITIZEN, "Nog iets")]))
    assert (await fake.post(again))[1]["messages"] == {"duplicate": 1, "applied": 1}
    assert [m.content.text for m in messages(channel)] == ["Hallo", "Nog iets"]


async def test_business_scoped_user_id_keys_the_conversation(channel: Channel) -> None:
    fake = channel.fake
    await fake.say(CITIZEN, "Hallo", user_id="NL.1234567890")
    # A username user: no phone number at all.
    await fake.post(fake.batch(fake.value([fake.text("", "Hoi", user_id="NL.999")])))
    convs = {c.channel_key: c for c in channel.ctx.conversations.values()}
    assert set(convs) == {"NL.1234567890", "NL.999"}
    assert convs["NL.1234567890"].context["wa_id"] == CITIZEN
    assert "wa_id" not in convs["NL.999"].context


async def test_an_interactive_answer_carries_the_bots_payload_again(channel: Channel) -> None:
    fake = channel.fake
    await fake.say(CITIZEN, "Afval")
    conv = await channel.conversation()
    entry = channel.ctx.add_entry(conv.id, Party.BOT, "", content=Content(
        "Waarover gaat het?",
        buttons=(Button("Grofvuil ophalen", "/grofvuil{\"soort\": \"bank\"}"),
                 Button("Container kapot", "/container_kapot"))))
    await fake.post(fake.batch(fake.value([fake.reply(CITIZEN, f"c:{entry.seq}:1",
                                                       "Container kapot")])))
    await fake.post(fake.batch(fake.value([fake.reply(
        CITIZEN, f"c:{entry.seq}:0", "Grofvuil ophalen", kind="list_reply")])))
    # An id we never sent is taken as the text the citizen chose, nothing more.
    await fake.post(fake.batch(fake.value([fake.reply(CITIZEN, "/admin", "Hack")])))
    got = [(m.content.text, m.payload) for m in messages(channel)[1:]]
    assert got == [("Container kapot", "/container_kapot"),
                   ("Grofvuil ophalen", "/grofvuil{\"soort\": \"bank\"}"),
                   ("Hack", None)]


async def test_a_location_becomes_text_with_a_map_link(channel: Channel) -> None:
    fake = channel.fake
    loc = {"latitude": 52.0907, "longitude": 5.1214, "name": "Stadhuis",
           "address": "Stadhuisbrug 1, Utrecht"}
    await fake.post(fake.batch(fake.value([fake.other(CITIZEN, "location", loc)])))
    (msg,) = messages(channel)
    assert msg.content.text.startswith("Locatie: Stadhuis, Stadhuisbrug 1, Utrecht\n")
    assert "mlat=52.0907&mlon=5.1214" in msg.content.text
    assert msg.content.custom == {"location": loc}


async def test_reactions_and_unknown_types_are_ignored_and_counted(channel: Channel) -> None:
    fake = channel.fake
    before = INBOUND.labels("wa", "reaction", "ignored")._value.get()
    before_other = INBOUND.labels("wa", "other", "ignored")._value.get()
    status, answer = await fake.post(fake.batch(fake.value([
        fake.other(CITIZEN, "reaction", {"message_id": "wamid.OUT1", "emoji": "👍"}),
        fake.other(CITIZEN, "hologram", {"id": "x"}),
    ])))
    assert status == 200 and answer["messages"] == {"ignored": 2}
    assert messages(channel) == [] and fake.sent == []
    assert INBOUND.labels("wa", "reaction", "ignored")._value.get() == before + 1
    assert INBOUND.labels("wa", "other", "ignored")._value.get() == before_other + 1


async def test_an_unsupported_type_is_answered_politely_once(channel: Channel) -> None:
    fake = channel.fake
    sticker = fake.other(CITIZEN, "sticker", {"id": "st1", "mime_type": "image/webp"})
    payload = fake.batch(fake.value([sticker]))
    assert (await fake.post(payload))[1]["messages"] == {"unsupported": 1}
    assert (await fake.post(payload))[1]["messages"] == {"unsupported": 1}
    assert fake.texts() == ["Dit soort bericht kunnen we helaas niet lezen. Stuur uw vraag "
                            "als tekst, foto, document of spraakbericht."]
    assert messages(channel) == []


async def test_an_image_is_downloaded_checked_and_served_to_the_agent(channel: Channel) -> None:
    fake = channel.fake
    fake.add_media("media-1", PNG, "image/png")
    img = fake.media_message(CITIZEN, "image", "media-1", "image/png", caption="Kapotte stoep")
    assert (await fake.post(fake.batch(fake.value([img]))))[1]["messages"] == {"applied": 1}
    (msg,) = messages(channel)
    assert msg.content.text == "Kapotte stoep"
    (att,) = msg.content.attachments
    assert att.mime_type == "image/png"
    assert att.url.startswith("https://handover.test/wa/media/")
    token = att.url.rsplit("/", 1)[1]
    resp = await channel.client.get(f"/wa/media/{token}")
    assert resp.status == 200 and await resp.read() == PNG
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    # Not guessable, and gone after the retention time.
    assert (await channel.client.get("/wa/media/" + "A" * 43)).status == 404
    channel.clock.advance(channel.adapter.options.media_ttl_seconds + 1)
    assert (await channel.client.get(f"/wa/media/{token}")).status == 404
    # The sweep (also run by the channel's watch loop, woken by the clock) removes it.
    await channel.adapter.media.sweep(channel.clock.now())
    assert not any(channel.adapter.options.media_dir.iterdir())


async def test_a_document_keeps_its_name_and_is_served_as_a_download(channel: Channel) -> None:
    fake = channel.fake
    fake.add_media("doc-1", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "application/pdf")
    doc = fake.media_message(CITIZEN, "document", "doc-1", "application/pdf",
                             filename="../../etc/aanvraag vergunning.pdf")
    await fake.post(fake.batch(fake.value([doc])))
    (att,) = messages(channel)[0].content.attachments
    assert att.name == "aanvraag vergunning.pdf" and att.mime_type == "application/pdf"
    resp = await channel.client.get("/wa/media/" + att.url.rsplit("/", 1)[1])
    assert resp.headers["Content-Disposition"].startswith("attachment;")


async def test_disguised_or_oversized_media_is_refused_politely(channel: Channel) -> None:
    fake = channel.fake
    fake.add_media("doc-exe", EXE, "application/pdf")
    fake.add_media("big", PNG, "image/png", declared_size=6 * 1024 * 1024)
    status, answer = await fake.post(fake.batch(fake.value([
        fake.media_message(CITIZEN, "document", "doc-exe", "application/pdf",
                           filename="factuur.pdf"),
        fake.media_message(CITIZEN, "image", "big", "image/png"),
    ])))
    assert status == 200 and answer["messages"] == {"media_refused": 2}
    assert messages(channel) == []
    assert fake.downloads == ["doc-exe"]  # the oversized one was never fetched
    assert len(fake.texts()) == 2 and all("niet aannemen" in t for t in fake.texts())
    assert not any((channel.adapter.options.media_dir).glob("*"))


async def test_media_that_cannot_be_fetched_now_makes_meta_retry(channel: Channel) -> None:
    from tests.fakes.whatsapp_server import Fault

    fake = channel.fake
    fake.add_media("media-2", PNG, "image/png")
    payload = fake.batch(fake.value([fake.media_message(CITIZEN, "image", "media-2",
                                                        "image/png")]))
    for fault in (Fault.error(500, 2), Fault.error(401, 190)):  # Meta down, token refused
        fake.fail_next("media", fault)
        status, answer = await fake.post(payload)
        assert status == 503 and answer["error"] == "unavailable"
        assert messages(channel) == [] and fake.sent == []  # nothing said to the citizen
    assert (await fake.post(payload))[1]["messages"] == {"applied": 1}


async def test_a_store_failure_answers_503_and_a_retry_stores_the_message(
    channel: Channel,
) -> None:
    fake = channel.fake
    payload = fake.batch(fake.value([fake.text(CITIZEN, "Hallo")]))
    channel.ctx.ingest_error = RuntimeError("database is locked")
    status, _ = await fake.post(payload)
    assert status == 503
    await asyncio.sleep(0.05)
    assert fake.read == []  # not marked read: it was not stored
    channel.ctx.ingest_error = None
    assert (await fake.post(payload))[1]["messages"] == {"applied": 1}
    await fake.wait_for(lambda: len(fake.read) == 1)


async def test_a_number_of_no_tenant_is_ignored(channel: Channel) -> None:
    fake = channel.fake
    payload = fake.batch(fake.value([fake.text(CITIZEN, "Hallo")]))
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999999"
    status, answer = await fake.post(payload)
    assert status == 200 and answer["messages"] == {"unknown_number": 1}
    assert channel.ctx.conversations == {}


def _sig(secret: str, body: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_a_voice_message_reaches_the_agent_as_audio(channel: Channel) -> None:
    fake = channel.fake
    opus = b"OggS\x00\x02" + b"\x00" * 22 + b"\x01\x13OpusHead" + b"\x00" * 40
    fake.add_media("voice-1", opus, "audio/ogg; codecs=opus")
    await fake.post(fake.batch(fake.value([fake.media_message(
        CITIZEN, "audio", "voice-1", "audio/ogg; codecs=opus", voice=True)])))
    (att,) = messages(channel)[0].content.attachments
    assert att.mime_type == "audio/ogg" and att.name == "bijlage.ogg"
