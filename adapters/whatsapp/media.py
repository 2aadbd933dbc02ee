"""Citizen media for the agent: kept in a directory and served under an unguessable,
expiring URL.

Media ids from Meta expire and their download URLs need our token, so the desk cannot
fetch them itself. The channel downloads each medium while handling the webhook (with
the cap of its type), checks what the bytes are (content sniffing: a "PDF" that is an
executable is refused), and stores it under a random 256-bit name. The agent gets
`<public_url>/media/<name>`; it answers 404 once `media_ttl_seconds` have passed, and a sweep
removes expired files. The served type is the sniffed one, with `nosniff`, and
anything but an image is served as a download, never rendered inline.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import filetype  # type: ignore[import-untyped]

from handover.sdk.model import Attachment

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
    path: Path
    mime_type: str
    name: str


class MediaStore:
    """Files in `directory`, each with a small JSON sidecar (type, name, expiry)."""

    def __init__(self, directory: Path, public_url: str, ttl_seconds: float) -> None:
        self.directory = directory
        self.public_url = public_url.rstrip("/")
        self.ttl = timedelta(seconds=ttl_seconds)

    async def save(self, data: bytes, mime_type: str, name: str, now: datetime) -> Attachment:
        token = secrets.token_urlsafe(32)
        if not name:
            name = f"bijlage.{_EXTENSION.get(mime_type, 'bin')}"
        meta = {"mime_type": mime_type, "name": name,
                "expires_at": (now + self.ttl).timestamp()}
        await asyncio.to_thread(self._write, token, data, meta)
        return Attachment(url=f"{self.public_url}/media/{token}", name=name, mime_type=mime_type)

    def _write(self, token: str, data: bytes, meta: dict[str, object]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / token).write_bytes(data)
        (self.directory / f"{token}.json").write_text(json.dumps(meta))

    async def find(self, token: str, now: datetime) -> Stored | None:
        """The file behind a token, or None when unknown or expired."""
        if not _TOKEN.match(token):
            return None
        return await asyncio.to_thread(self._find, token, now.timestamp())

    def _find(self, token: str, now: float) -> Stored | None:
        path = self.directory / token
        try:
            meta = json.loads((self.directory / f"{token}.json").read_text())
        except (OSError, ValueError):
            return None
        if float(meta.get("expires_at", 0)) <= now or not path.exists():
            return None
        return Stored(path, str(meta["mime_type"]), str(meta["name"]))

    async def sweep(self, now: datetime) -> int:
        """Remove expired files; returns how many."""
        return await asyncio.to_thread(self._sweep, now.timestamp())

    def _sweep(self, now: float) -> int:
        removed = 0
        if not self.directory.exists():
            return 0
        for sidecar in self.directory.glob("*.json"):
            try:
                expired = float(json.loads(sidecar.read_text()).get("expires_at", 0)) <= now
            except (OSError, ValueError):
                expired = True
            if expired:
                (self.directory / sidecar.stem).unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)
                removed += 1
        return removed


def safe_name(name: object) -> str:
    """A document's file name as shown to the agent: no paths, no control characters."""
    if not isinstance(name, str):
        return ""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:120]
