"""Capability fallbacks, decided by the core from what a channel declares.

A channel that cannot show buttons gets numbered text (and the numbers map back to the
button payloads when the citizen answers with one); a channel without attachments gets
links. Adapters never degrade content themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from handover.model import Content
from handover.sdk.contracts import ChannelCapabilities


@dataclass(frozen=True, slots=True)
class Rendered:
    content: Content
    #: Numbered choices offered as text: "1" -> payload. Empty when none.
    choices: dict[str, str] = field(default_factory=dict)


def render_for(content: Content, caps: ChannelCapabilities) -> Rendered:
    """Fit `content` to what the channel can show."""
    text = content.text
    buttons = content.buttons
    choices: dict[str, str] = {}
    if buttons and len(buttons) > caps.max_buttons:
        if all(b.title.strip().isdigit() for b in buttons):
            # A numeric scale (0-10): the question already asks for a number, and
            # numbering the numbers would make "3" ambiguous.
            pass
        else:
            lines = []
            for n, button in enumerate(buttons, start=1):
                lines.append(f"{n}. {button.title}")
                choices[str(n)] = button.payload
            text = "\n".join([text, *lines]) if text else "\n".join(lines)
        buttons = ()
    attachments = content.attachments
    if attachments and not caps.attachments:
        links = [f"{a.name or 'bijlage'}: {a.url}" for a in attachments]
        text = "\n".join([text, *links]) if text else "\n".join(links)
        attachments = ()
    if caps.max_text_length is not None and len(text) > caps.max_text_length:
        text = text[: caps.max_text_length - 1] + "…"
    if text is content.text and buttons is content.buttons and attachments is content.attachments:
        return Rendered(content)
    return Rendered(Content(text, buttons, attachments, content.custom), choices)
