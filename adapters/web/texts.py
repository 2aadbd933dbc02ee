"""The widget's own interface texts (buttons, labels, status lines) in Dutch and English.

They are served with the widget configuration per tenant, so the script carries no texts
and a tenant can override any of them (`[adapters.<name>.tenants.<id>.texts.nl]`). The
conversation's messages themselves (queue position, survey question...) come from the
core's message catalogue, not from here. `{name}`, `{position}`, `{minutes}`, `{count}`
and `{max}` are filled in by the widget.
"""

from __future__ import annotations

WIDGET_LANGUAGES = ("nl", "en")

WIDGET_TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Chat met de gemeente",
        "open": "Chat openen",
        "minimise": "Minimaliseren",
        "greeting": "Welkom! Stel hier uw vraag aan de gemeente. U chat eerst met onze "
                    "digitale assistent, een computerprogramma. Wilt u liever een mens? "
                    "Vraag dan om een medewerker.",
        "input_label": "Uw bericht",
        "placeholder": "Typ uw vraag",
        "send": "Versturen",
        "request_agent": "Praat met een medewerker",
        "bot_name": "Digitale assistent",
        "bot_role": "computer",
        "agent_role": "medewerker",
        "agent_fallback_name": "Medewerker",
        "you": "U",
        "system": "Melding",
        "state_bot": "U chat met de digitale assistent.",
        "state_pending": "Een moment, we zoeken een medewerker voor u.",
        "state_queued": "U staat in de wachtrij.",
        "state_queued_position": "U staat in de wachtrij. Aantal mensen voor u: {position}.",
        "state_wait": "Verwachte wachttijd: ongeveer {minutes} min.",
        "state_agent": "U chat met {name}.",
        "state_survey": "Wat vond u van het gesprek?",
        "state_closed": "Het gesprek is beëindigd.",
        "typing": "{name} is aan het typen…",
        "reconnecting": "Verbinding verbroken. We proberen opnieuw te verbinden…",
        "connected": "Verbonden.",
        "nps_legend": "Kies een cijfer van 0 (helemaal niet waarschijnlijk) tot en met 10 "
                      "(zeer waarschijnlijk)",
        "nps_low": "Helemaal niet waarschijnlijk",
        "nps_high": "Zeer waarschijnlijk",
        "not_sent": "Niet verstuurd: {reason}",
        "rate_limited": "u stuurt te veel berichten achter elkaar. Wacht even.",
        "error": "Er ging iets mis. Probeer het opnieuw.",
        "messages_label": "Gesprek",
        "unread_one": "1 nieuw bericht",
        "unread_many": "{count} nieuwe berichten",
        "too_long": "Uw tekst is langer dan {max} tekens. Alleen het begin staat in het "
                    "tekstvak; stuur de rest in een volgend bericht.",
        "chosen": "gekozen",
        "end_chat": "Gesprek beëindigen",
        "end_confirm": "Wilt u het gesprek beëindigen? De medewerker ziet dat u weg bent.",
        "end_yes": "Ja, beëindigen",
        "end_no": "Nee, doorgaan",
        "not_delivered": "Niet afgeleverd.",
        "retry": "Opnieuw proberen",
        "offline": "U bent offline. Zodra er weer internet is, verbinden we opnieuw.",
        "state_callback": "Terugbelverzoek. Stoppen kan altijd: typ 'stop'.",
    },
    "en": {
        "title": "Chat with the municipality",
        "open": "Open chat",
        "minimise": "Minimise",
        "greeting": "Welcome! Ask the municipality your question here. You first chat with "
                    "our digital assistant, a computer program. Would you rather talk to a "
                    "person? Then ask for an employee.",
        "input_label": "Your message",
        "placeholder": "Type your question",
        "send": "Send",
        "request_agent": "Talk to a person",
        "bot_name": "Digital assistant",
        "bot_role": "computer",
        "agent_role": "employee",
        "agent_fallback_name": "Employee",
        "you": "You",
        "system": "Notice",
        "state_bot": "You are chatting with the digital assistant.",
        "state_pending": "One moment, we are looking for an employee.",
        "state_queued": "You are in the queue.",
        "state_queued_position": "You are in the queue. People ahead of you: {position}.",
        "state_wait": "Estimated waiting time: about {minutes} min.",
        "state_agent": "You are chatting with {name}.",
        "state_survey": "How was the conversation?",
        "state_closed": "The conversation has ended.",
        "typing": "{name} is typing…",
        "reconnecting": "Connection lost. Trying to reconnect…",
        "connected": "Connected.",
        "nps_legend": "Choose a number from 0 (not at all likely) to 10 (very likely)",
        "nps_low": "Not at all likely",
        "nps_high": "Very likely",
        "not_sent": "Not sent: {reason}",
        "rate_limited": "you are sending too many messages in a row. Please wait a moment.",
        "error": "Something went wrong. Please try again.",
        "messages_label": "Conversation",
        "unread_one": "1 new message",
        "unread_many": "{count} new messages",
        "too_long": "Your text is longer than {max} characters. Only the beginning is in the "
                    "text box; send the rest in another message.",
        "chosen": "chosen",
        "end_chat": "End chat",
        "end_confirm": "Do you want to end the chat? The employee will see that you left.",
        "end_yes": "Yes, end it",
        "end_no": "No, go on",
        "not_delivered": "Not delivered.",
        "retry": "Try again",
        "offline": "You are offline. We will reconnect as soon as the internet is back.",
        "state_callback": "Callback request. You can stop at any time: type 'stop'.",
    },
}
