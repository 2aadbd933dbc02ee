"""An in-memory registration target, for tests (type name `memory_registry`).

Records the callback requests and contact records it is given, once per id (as a real
target must: delivery is at least once), and can inject faults (`faults.fail_next`).
With `path` set it also appends every registration it is offered (repeats included)
to a JSON-lines file, so what a test daemon that is killed and restarted was sent
survives it: the crash tests check there that every copy carries one id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handover.sdk.contracts import AdapterContext, ConfigIssue, ConfigIssues
from handover.sdk.registration import (
    CallbackRequest,
    ContactRecord,
    RegistrationReceipt,
    RegistryAdapter,
)
from handover.sdk.testing.memory import _Faults, _Waiters

__all__ = ["MemoryRegistry", "MemoryRegistryOptions"]


@dataclass(frozen=True, slots=True)
class MemoryRegistryOptions:
    #: Whether it wants finished contacts too (callback requests it always takes).
    contacts: bool = True
    #: A JSON-lines file that keeps the registrations across restarts.
    path: str | None = None


class MemoryRegistry(RegistryAdapter):
    """A registration target kept in memory (resend-safe: it dedups by id)."""

    resend_safe = True
    registers_callbacks = True
    registers_contacts = True

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        self.options = (
            config if isinstance(config, MemoryRegistryOptions) else MemoryRegistryOptions()
        )
        self.callbacks: dict[str, CallbackRequest] = {}
        self.contacts: dict[str, ContactRecord] = {}
        #: How often each id was offered (a resend shows as 2).
        self.offered: dict[str, int] = {}
        self.faults = _Faults()
        self._waiters = _Waiters()

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> MemoryRegistryOptions:
        allowed = {"contacts", "path"}
        unknown = [ConfigIssue(f"{path}.{k}", "unknown key") for k in section if k not in allowed]
        if unknown:
            raise ConfigIssues(unknown)
        file = section.get("path")
        return MemoryRegistryOptions(
            contacts=bool(section.get("contacts", True)),
            path=str(file) if file is not None else None,
        )

    async def register_callback(self, request: CallbackRequest) -> RegistrationReceipt:
        self.faults.check()
        self.offered[request.request_id] = self.offered.get(request.request_id, 0) + 1
        self._append("callback", request.request_id, request.reference)
        if request.request_id not in self.callbacks:
            self.callbacks[request.request_id] = request
        await self._waiters.notify()
        return RegistrationReceipt(external_id=f"cb-{request.reference}")

    async def register_contact(self, record: ContactRecord) -> RegistrationReceipt:
        self.faults.check()
        if not self.options.contacts:
            return RegistrationReceipt()
        self.offered[record.record_id] = self.offered.get(record.record_id, 0) + 1
        self._append("contact", record.record_id, record.outcome)
        if record.record_id not in self.contacts:
            self.contacts[record.record_id] = record
        await self._waiters.notify()
        return RegistrationReceipt(external_id=f"kc-{record.record_id}")

    def registered(self) -> list[dict[str, str]]:
        """What the file holds (one entry per offer), or [] without a file."""
        if self.options.path is None or not Path(self.options.path).exists():
            return []
        lines = Path(self.options.path).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def _append(self, kind: str, id_: str, detail: str) -> None:
        if self.options.path is None:
            return
        with Path(self.options.path).open("a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": kind, "id": id_, "detail": detail}) + "\n")

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> None:
        await self._waiters.wait_for(predicate, timeout)
