"""Citizen media for the agent: kept in a directory and served under an unguessable,
expiring URL by whichever daemon instance the agent's request reaches.

Media ids from Meta expire and their download URLs need our token, so the desk cannot
fetch them itself. The channel downloads each medium while handling the webhook (with
the cap of its type), streaming it into a file (never more than a chunk in memory),
checks what the bytes are (content sniffing: a "PDF" that is an executable is
refused), and stores it under a random 256-bit name. The agent gets
`<public_url>/media/<name>`; it answers 404 once `media_ttl_seconds` have passed, and a
sweep removes expired files. The served type is the sniffed one, with `nosniff`, and
anything but an image is served as a download, never rendered inline.

What a name stands for (type, file name, Meta's media id, expiry) is adapter state in
the daemon's store, and so is what each citizen message's medium became (keyed by its
wamid): a webhook Meta sends again finds it there and downloads nothing, whichever
instance it reaches. The file itself is on the disk of the instance that downloaded
it; an instance without it fetches it again from the Graph API by the media id (Meta
keeps a received medium retrievable by id for weeks, longer than our links live),
checks that it is the same type, and keeps that copy. So no shared filesystem is
needed. Files are created 0600 in a 0700 directory: they are citizens' documents.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import filetype  # type: ignore[import-untyped]

from adapters.whatsapp.client import MediaSink
from handover.sdk.model import Attachment
from handover.sdk.state import AdapterState

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")

#: What the bytes may be, per WhatsApp message type.
ALLOWED = {
    "image": frozenset({"image/jpeg", "image/png", "image/webp"}),
    "audio": frozenset({"audio/ogg", "audio/mpeg", "audio/mp4", "audio/m4a", "audio/aac",
                        "audio/amr", "video/mp4"}),
    "document": frozenset({
        "application/pdf", "image/jpeg", "image/png",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/msword", "application/vnd.ms-excel", "text/plain",
    }),
}
_EXTENSION = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
              "application/pdf": "pdf", "audio/ogg": "ogg", "audio/mpeg": "mp3",
              "text/plain": "txt"}


#: A download still being written after this long was abandoned (its instance died).
ABANDONED_SECONDS = 3600.0


class MediaRefused(Exception):
    """The bytes are not what this message type may carry."""


def sniff(data: bytes, kind: str, declared: str) -> str:
    """The MIME type the bytes really have, if allowed for `kind`; else MediaRefused."""
    guessed = filetype.guess_mime(data)
    if guessed is None and declared.split(";")[0].strip() == "text/plain" and kind == "document":
        # Plain text has no magic number: accept it when it is text indeed.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise MediaRefused("declared text, but not UTF-8") from None
        guessed = "text/plain"
    if guessed is None or guessed not in ALLOWED.get(kind, frozenset()):
        raise MediaRefused(f"{kind} with content {guessed or 'unknown'}")
    return str(guessed)


@dataclass(frozen=True, slots=True)
class Stored:
    """A medium a token stands for. `path` is this instance's copy (it may not exist
    yet: fetch it again by `media_id`)."""

    path: Path
    mime_type: str
    name: str
    media_id: str
    kind: str


class MediaStore:
    """The files in `directory` (this instance's copies) and their records in `state()`."""

    def __init__(self, directory: Path, public_url: str, ttl_seconds: float,
                 state: Callable[[], AdapterState]) -> None:
        self.directory = directory
        self.public_url = public_url.rstrip("/")
        self.ttl = timedelta(seconds=ttl_seconds)
        self._state = state

    # --- files ------------------------------------------------------------------------

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)

    async def download_file(self, fill: Callable[[MediaSink], Awaitable[str]]) -> tuple[Path, str]:
        """A new private file filled by `fill(sink)` (which returns the declared type);
        the file is removed when `fill` raises."""
        await asyncio.to_thread(self._ensure_directory)
        path = self.directory / f".part-{secrets.token_urlsafe(16)}"
        handle = await asyncio.to_thread(_create_private, path)
        try:
            async def sink(chunk: bytes) -> None:
                await asyncio.to_thread(handle.write, chunk)
            declared = await fill(sink)
        except BaseException:
            await asyncio.to_thread(handle.close)
            path.unlink(missing_ok=True)
            raise
        await asyncio.to_thread(handle.close)
        return path, declared

    async def discard(self, path: Path) -> None:
        await asyncio.to_thread(path.unlink, True)

    # --- records ------------------------------------------------------------------------

    async def save(self, path: Path, mime_type: str, name: str, *, media_id: str, kind: str,
                   conversation_id: str, now: datetime) -> Attachment:
        """Keep a downloaded file under a new token and record what the token stands for."""
        token = secrets.token_urlsafe(32)
        if not name:
            name = f"bijlage.{_EXTENSION.get(mime_type, 'bin')}"
        await asyncio.to_thread(os.replace, path, self.directory / token)
        await self._state().put(
            f"media:{token}", {"mime_type": mime_type, "name": name, "media_id": media_id,
                               "kind": kind, "expires_at": (now + self.ttl).timestamp()},
            ttl_seconds=self.ttl.total_seconds(), conversation_id=conversation_id)
        return Attachment(url=f"{self.public_url}/media/{token}", name=name, mime_type=mime_type)

    async def find(self, token: str, now: datetime) -> Stored | None:
        """What a token stands for, or None when unknown or expired."""
        if not _TOKEN.match(token):
            return None
        record = await self._state().get(f"media:{token}")
        if record is None or float(record.value.get("expires_at", 0)) <= now.timestamp():
            return None
        v = record.value
        return Stored(self.directory / token, str(v["mime_type"]), str(v["name"]),
                      str(v.get("media_id", "")), str(v.get("kind", "")))

    async def adopt(self, path: Path, stored: Stored) -> None:
        """This instance's copy of a medium fetched again."""
        await asyncio.to_thread(os.replace, path, stored.path)

    async def sweep(self, now: datetime) -> int:
        """Remove this instance's copies whose link expired (their record is gone or
        expired), sidecars of older versions and abandoned downloads; returns how many."""
        names = await asyncio.to_thread(self._names)
        removed = 0
        for name in names:
            path = self.directory / name
            if name.startswith(".part-"):
                stale = await asyncio.to_thread(_older_than, path, ABANDONED_SECONDS)
            elif name.endswith(".json"):
                stale = True
            else:
                stale = await self.find(name, now) is None
            if stale:
                await asyncio.to_thread(path.unlink, True)
                removed += 1
        return removed

    def _names(self) -> list[str]:
        if not self.directory.exists():
            return []
        return [p.name for p in self.directory.iterdir()]


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False


def _create_private(path: Path) -> BinaryIO:
    """A new file only the daemon's user can read (0600 whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def sniff_file(path: Path, kind: str, declared: str) -> str:
    """`sniff` on a file: its head for the magic number, all of it for plain text."""
    with path.open("rb") as f:
        head = f.read(8192)
        mime = filetype.guess_mime(head)
        if mime is None and declared.split(";")[0].strip() == "text/plain" and kind == "document":
            decoder = codecs.getincrementaldecoder("utf-8")()
            try:
                decoder.decode(head)
                while chunk := f.read(65536):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise MediaRefused("declared text, but not UTF-8") from None
            return "text/plain"
    return sniff(head, kind, declared)


def safe_name(name: object) -> str:
    """A document's file name as shown to the agent: no paths, no control characters."""
    if not isinstance(name, str):
        return ""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:120]
