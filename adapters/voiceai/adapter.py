"""The telephony channel: AudioCodes VoiceAI Connect's bot API in HTTP mode.

The gateway turns the caller's speech into text and the daemon's text into speech; to
the gateway the daemon is the bot. A handover on a call is a transfer of the call to the
tenant's contact centre queue (`tel:` or `sip:`), with a SIP header carrying a reference
the contact centre's system can use to fetch the transcript. See README.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from adapters.voiceai.calls import Calls
from adapters.voiceai.options import VoiceOptions, check_tenants, parse_options
from adapters.voiceai.routes import VoiceRoutes
from handover.sdk.contracts import (
    AdapterContext,
    ChannelAdapter,
    ChannelCapabilities,
    OutboundMessage,
    TransferRequest,
)
from handover.sdk.model import Conversation

__all__ = ["VoiceAiChannel", "VoiceOptions"]


class VoiceAiChannel(ChannelAdapter):
    """Callers on the phone, through a VoiceAI Connect gateway."""

    #: `deliver` only wakes the request waiting for the call's answer; the transcript is
    #: what is spoken, so a repeated delivery changes nothing.
    resend_safe = True
    #: No buttons (the core numbers the options; the caller says or keys the number),
    #: no attachments, a handover is a transfer, and no written survey on a call.
    capabilities = ChannelCapabilities(max_buttons=0, transfer=True, spoken=True)

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        if not isinstance(config, VoiceOptions):
            raise TypeError("VoiceAiChannel needs the options parse_config returned")
        self.options = config
        self.calls = Calls(ctx)

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> VoiceOptions:
        return parse_options(section, path)

    @classmethod
    def check_tenants(cls, options: Any, tenants: Sequence[str], path: str) -> None:
        check_tenants(options, tenants, path)

    def http_app(self) -> web.Application:
        return VoiceRoutes(self.ctx, self.name, self.options, self.calls).app()

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> None:
        self.calls.wake(conversation.id)

    async def transfer(self, conversation: Conversation, request: TransferRequest) -> None:
        # The transfer activity is derived from the conversation (state `transfer`, its
        # handover number and tenant) when the gateway's request is answered, so a
        # restart in between loses nothing; here the waiting request only learns of it.
        self.calls.wake(conversation.id)
