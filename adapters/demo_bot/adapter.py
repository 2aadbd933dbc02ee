"""The demo bot: a scripted stand-in for Gem, so the demo needs no Rasa server.

It answers with a `BotResponse` as any bot adapter does: the texts with their buttons,
and when the citizen asks for a person a `HandoverSignal` (reason, the last topic, the
language), the same signal the Rasa adapter reads from Gem's custom payload.

Three options exist for tests of the core's policies: `delay_seconds` with an optional
`slow_trigger` produce late replies (stale-epoch tests), `fail_trigger` makes a turn fail
with a TransientError (bot-failure policy tests).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.demo_bot import script
from handover.sdk.contracts import AdapterContext, BotAdapter, BotResponse, BotTurn, ConfigIssues
from handover.sdk.errors import TransientError
from handover.sdk.model import Button, Content, Conversation, HandoverSignal
from handover.sdk.options import Issues, Table

__all__ = ["DemoBot", "DemoBotOptions"]

#: How many conversations' last topic the bot remembers. The topic only enriches the
#: handover signal, so forgetting the oldest (or all, on restart) is harmless.
_REMEMBERED_CONVERSATIONS = 10_000
_MAX_DELAY_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class DemoBotOptions:
    """The demo bot's `[adapters.<name>]` options."""

    #: Seconds to wait before answering (simulates a slow bot).
    delay_seconds: float = 0.0
    #: Only turns whose text contains this word are delayed; None delays every turn.
    slow_trigger: str | None = None
    #: A turn whose text contains this word fails with TransientError.
    fail_trigger: str | None = None


class DemoBot(BotAdapter):
    """A small scripted municipal bot (nl/en) that hands over when asked for a person."""

    def __init__(self, name: str, config: Any, ctx: AdapterContext) -> None:
        super().__init__(name, config, ctx)
        self.options = config if isinstance(config, DemoBotOptions) else DemoBotOptions()
        self._last_topic: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def parse_config(cls, section: Mapping[str, Any], path: str) -> DemoBotOptions:
        issues = Issues()
        # The triggers may be given as null (from a JSON/Python document); TOML has no
        # null, so an absent key means the same.
        data = {
            k: v for k, v in section.items()
            if not (v is None and k in ("slow_trigger", "fail_trigger"))
        }
        table = Table(data, path, issues)
        delay = table.number("delay_seconds", 0.0, minimum=0.0)
        if delay > _MAX_DELAY_SECONDS:
            issues.add(table.at("delay_seconds"), f"must be at most {_MAX_DELAY_SECONDS:g}")
        options = DemoBotOptions(
            delay_seconds=delay,
            slow_trigger=table.optional_string("slow_trigger"),
            fail_trigger=table.optional_string("fail_trigger"),
        )
        table.finish()
        if issues:
            raise ConfigIssues(issues.items)
        return options

    async def turn(self, conversation: Conversation, turn: BotTurn) -> BotResponse:
        o = self.options
        said = turn.text.casefold()
        if o.fail_trigger and o.fail_trigger.casefold() in said:
            # Raised before "receiving" the turn, so TransientError is the honest class.
            raise TransientError("demo bot: fail trigger")
        if o.delay_seconds > 0 and (o.slow_trigger is None or o.slow_trigger.casefold() in said):
            await self.ctx.clock.sleep(o.delay_seconds)
        found = script.match(turn.text, turn.payload)
        self.ctx.log.debug(
            "demo_bot.turn",
            conversation_id=conversation.id,
            intent=found.intent.value,
            topic=found.topic.key if found.topic else None,
        )
        return self._answer(conversation.id, found, turn.language)

    async def handback(self, conversation: Conversation, outcome: str) -> None:
        # A real bot might reset its dialogue state here; the script has none to reset.
        self.ctx.log.info("demo_bot.handback", conversation_id=conversation.id, outcome=outcome)

    # --- replies ---------------------------------------------------------------------

    def _answer(self, conversation_id: str, found: script.Match, language: str) -> BotResponse:
        lang = script.language_of(language)
        texts = script.TEXTS

        def say(text: str, buttons: list[Button] | None = None) -> BotResponse:
            return BotResponse(messages=(Content(text=text, buttons=tuple(buttons or ())),))

        person = Button(texts["handover_button"][lang], script.HANDOVER_PAYLOAD)
        topics = [Button(t.title[lang], t.payload) for t in script.TOPICS]
        if found.intent is script.Intent.HANDOVER:
            topic = self._last_topic.get(conversation_id)
            titles = {t.key: t.title for t in script.TOPICS}
            signal = HandoverSignal(
                reason="citizen_request",
                topic=topic,
                language=language,
                # The topic in words, in the agents' language (Dutch), for the desk's
                # list: agents scan for "Afval", not the key "waste".
                details={"topic_label": titles[topic]["nl"]} if topic in titles else {},
            )
            return BotResponse(messages=(Content(text=texts["handover"][lang]),), handover=signal)
        if found.intent is script.Intent.TOPIC and found.topic is not None:
            self._remember(conversation_id, found.topic.key)
            # Like Gem's local answers: a "talk to an employee" button under the answer.
            return say(found.topic.answer[lang], [person])
        if found.intent is script.Intent.THANKS:
            return say(texts["thanks"][lang])
        if found.intent is script.Intent.GREET:
            return say(texts["greet"][lang], topics)
        return say(texts["fallback"][lang], [person, *topics])

    def _remember(self, conversation_id: str, topic: str) -> None:
        self._last_topic[conversation_id] = topic
        self._last_topic.move_to_end(conversation_id)
        while len(self._last_topic) > _REMEMBERED_CONVERSATIONS:
            self._last_topic.popitem(last=False)
