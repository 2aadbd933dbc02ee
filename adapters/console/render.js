// The console's DOM builders and Dutch labels: pure functions of the API's data. Data
// only ever goes into textContent, attributes and http(s) links, never into HTML.

const $ = (id) => document.getElementById(id);

const LABELS = {
  status: { queued: "Wachtend", active: "In behandeling", closed: "Afgesloten" },
  party: { citizen: "Inwoner", bot: "Chatbot", agent: "Medewerker", system: "Systeem",
           note: "Notitie", internal: "Interne notitie" },
  reason: { citizen_request: "Inwoner vroeg om een medewerker",
            bot_failure: "Chatbot kon niet verder", handover: "Doorverwezen door chatbot" },
  outcome: { resolved: "Opgelost", unresolved: "Niet opgelost", referred: "Doorverwezen",
             no_response: "Geen reactie" },
  close_reason: { agent: "door medewerker", citizen_left: "inwoner is weg",
                  citizen_inactive: "inwoner reageerde niet", agent_inactive: "geen antwoord",
                  queue_timeout: "wachttijd verstreken", ended: "beëindigd" },
  language: { nl: "Nederlands", en: "Engels" },
  // Channels by their usual instance names; any other name shows as configured.
  channel: { web: "Website", widget: "Website", rest: "App (REST)",
             whatsapp: "WhatsApp", socketio: "Website", telefoon: "Telefoon",
             phone: "Telefoon", voice: "Telefoon", voiceai: "Telefoon" },
};

export const label = (group, key) => (key && LABELS[group][key]) || key || "–";

const ERRORS = {
  taken: "Een collega heeft dit gesprek al opgepakt.",
  thread_closed: "Dit gesprek is inmiddels beëindigd.",
  not_yours: "Alleen de medewerker die het gesprek heeft opgepakt kan dit doen.",
  unavailable: "Het lukte even niet. Probeer het opnieuw.",
  unknown_thread: "Dit gesprek bestaat niet (meer).",
  away: "U staat op afwezig. Zet uw status eerst weer op beschikbaar.",
  at_limit: "Het maximum aantal gesprekken tegelijk is bereikt. Sluit eerst een gesprek af.",
  not_online: "Deze collega is niet (meer) aangemeld.",
};

export const explain = (err) =>
  ERRORS[err.code] || "Er ging iets mis (" + (err.code || err.message) + ").";

/** The waiting time: the server's count, going on since the thread was fetched (`_seen`). */
export function waitingText(t) {
  let seconds = t.waiting_seconds;
  if (t.waiting) seconds += Math.floor((Date.now() - (t._seen || Date.now())) / 1000);
  const minutes = Math.floor(seconds / 60);
  return minutes < 1 ? seconds + " s" : minutes + " min";
}

export function line(parent, text, cls) {
  const span = document.createElement("span");
  span.className = "line" + (cls ? " " + cls : "");
  span.textContent = text;
  parent.append(span);
  return span;
}

/** The municipality as people say it; its configuration id when the name is not known. */
export const tenantName = (t) => t.tenant_name || t.tenant;
/** The topic in words (the server's `topic_label`), else why the citizen came. */
export const topicText = (t) => t.topic_label || label("reason", t.reason);
/** Consent shows as given only when it was asked and given; the signal alone defaults to yes. */
export const consentGiven = (t) => t.consent === true && t.consent_asked === true;

function snippetText(last) {
  const who = last.party === "agent" && last.sender_name ? last.sender_name : label("party", last.party);
  const text = last.text || (last.attachments ? "(bijlage)" : "");
  return who + ": " + text;
}

/** The waiting time, live: `.wait` is updated every second for a waiting thread. */
export const waitLine = (t) => "Wacht " + waitingText(t);

/**
 * One thread of the lists, as a button: the municipality, channel and waiting time, the
 * topic in words, the last message, and the unread count. `last` is the last message
 * (from the summary, the thread's detail or a live event), `consentAsked` what the
 * thread's detail said.
 */
export function threadButton(t, { selected, unread, last, consentAsked }) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "thread-item";
  button.dataset.threadId = t.thread_id;
  button.id = "thread-item-" + t.thread_id;
  if (selected) button.setAttribute("aria-current", "true");
  const head = document.createElement("span");
  head.className = "line head";
  line(head, tenantName(t) + " · " + label("channel", t.channel), "where");
  const meta = t.status === "queued" ? waitLine(t)
    : t.status === "active" ? "Bij " + (t.agent ? t.agent.name : "–")
    : t.outcome ? label("outcome", t.outcome) : label("close_reason", t.close_reason);
  line(head, meta, "meta" + (t.status === "queued" ? " wait" : ""));
  button.append(head);
  line(button, topicText(t), "topic");
  if (last) {
    const snippet = line(button, snippetText(last), "snippet");
    snippet.dir = "auto";
  }
  const marks = [];
  if (t.language && t.language !== "nl") marks.push(label("language", t.language));
  if (consentGiven({ ...t, consent_asked: consentAsked ?? t.consent_asked })) marks.push("Toestemming: Ja");
  if (t.status === "queued" && t.team) marks.push("Team " + (t.team_name || t.team));
  if (t.status === "queued" && t.handoff) marks.push(HANDOFF[t.handoff.kind] + " " + t.handoff.from);
  if (marks.length) line(button, marks.join(" · "), "meta");
  if (unread) {
    const badge = line(button, String(unread), "unread");
    const words = document.createElement("span");
    words.className = "visually-hidden";
    words.textContent = unread === 1 ? " nieuw bericht" : " nieuwe berichten";
    badge.append(words);
  }
  return button;
}

const HANDOFF = { transfer: "Overgedragen door", queue: "Teruggezet door",
                  reoffer: "Geen antwoord van" };

/** The outcomes to choose from, with no choice made: closing needs a conscious one. */
export function outcomeOptions(outcomes) {
  return [["", "Kies een uitkomst…"], ...outcomes.map((o) => [o, label("outcome", o)])]
    .map(([value, text]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      return option;
    });
}

/** What the close dialog asks: which conversation, with which outcome, and that it is final. */
export const closeQuestion = (d, outcome) => "Het gesprek (" + tenantName(d) + ", "
  + topicText(d) + ") wordt afgesloten met de uitkomst “" + label("outcome", outcome)
  + "”. De inwoner kan daarna in dit gesprek niet meer met u chatten.";

function link(url, text) {
  const a = document.createElement("a");
  a.href = url;
  a.textContent = text;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

const isWebUrl = (url) => /^https?:\/\//i.test(url);

// A message's text with its http(s) links clickable: text nodes and anchors only, never
// innerHTML, and no other scheme (javascript:, data:, ...) becomes a link.
const URL_IN_TEXT = /https?:\/\/[^\s<>"']+/gi;
export function appendLinked(parent, text) {
  let at = 0;
  for (const found of text.matchAll(URL_IN_TEXT)) {
    if (found.index < at) continue;
    const url = found[0].replace(/[.,;:!?)\]}'"]+$/, ""); // sentence punctuation is no part of it
    let href = null;
    try {
      const parsed = new URL(url);
      if (parsed.protocol === "http:" || parsed.protocol === "https:") href = parsed.href;
    } catch { /* not a URL after all: stays text */ }
    if (!href) continue;
    if (found.index > at) parent.append(text.slice(at, found.index));
    const a = link(href, url);
    a.rel = "noopener noreferrer nofollow";
    parent.append(a);
    at = found.index + url.length;
  }
  if (at < text.length) parent.append(text.slice(at));
}

function pageLink(dd, url) {
  dd.replaceChildren();
  if (!url) dd.textContent = "–";
  else if (isWebUrl(url)) dd.append(link(url, url));
  else dd.textContent = url;
}

const DETAIL_FIELDS = ["status", "tenant", "channel", "language", "reason", "topic", "consent",
                       "page-url", "page-title", "referrer", "waiting", "agent"];

/** The thread pane as before any thread was opened: nothing of a thread left in the DOM. */
export function clearThreadView() {
  $("thread-title").textContent = "Kies een gesprek";
  $("thread-empty").hidden = false;
  $("thread-body").hidden = true;
  for (const field of DETAIL_FIELDS) $("detail-" + field).replaceChildren();
  $("bot-details-box").hidden = true;
  $("bot-details-box").open = false;
  $("bot-details").replaceChildren();
  $("thread-error").textContent = "";
  $("pickup").hidden = true;
  $("transcript").replaceChildren();
  $("citizen-typing").textContent = "";
  $("reply-form").hidden = true;
  $("reply-text").value = "";
  $("close-form").hidden = true;
}

/** The details list of the open thread. */
export function renderDetailFields(d) {
  $("thread-empty").hidden = true;
  $("thread-body").hidden = false;
  $("thread-title").textContent = "Gesprek " + tenantName(d) + " · " + label("channel", d.channel);
  let status = label("status", d.status);
  if (d.status === "closed") {
    status += " (" + (d.outcome ? label("outcome", d.outcome) : label("close_reason", d.close_reason)) + ")";
  }
  $("detail-status").textContent = status;
  $("detail-tenant").textContent = tenantName(d);
  $("detail-channel").textContent = label("channel", d.channel);
  $("detail-language").textContent = label("language", d.language);
  $("detail-reason").textContent = label("reason", d.reason);
  $("detail-topic").textContent = d.topic_label || "–";
  $("detail-consent").textContent = d.consent === false
    ? "Nee: de inwoner gaf geen toestemming om het gesprek te delen"
    : consentGiven(d) ? "Ja" : "Niet gevraagd";
  pageLink($("detail-page-url"), d.page.url);
  $("detail-page-title").textContent = d.page.title || "–";
  pageLink($("detail-referrer"), d.page.referrer);
  $("detail-waiting").textContent = waitingText(d);
  $("detail-agent").textContent = d.agent ? d.agent.name : "–";

  const extra = Object.entries(d.details || {});
  $("bot-details-box").hidden = extra.length === 0;
  $("bot-details-title").textContent = "Van de chatbot (" + extra.length + ")";
  $("bot-details").replaceChildren(...extra.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = typeof v === "string" ? v : JSON.stringify(v);
    return [dt, dd];
  }));
}

/** One transcript item; the party shows in its label, class and `data-party`. */
export function entryItem(entry) {
  const li = document.createElement("li");
  li.className = "party-" + entry.party;
  li.dataset.party = entry.party;
  li.dataset.messageId = entry.message_id;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = label("party", entry.party) + (entry.sender_name ? " " + entry.sender_name : "");
  const when = document.createElement("time");
  when.className = "when";
  if (entry.created_at) {
    when.dateTime = entry.created_at;
    when.textContent = new Date(entry.created_at)
      .toLocaleTimeString("nl-NL", { hour: "2-digit", minute: "2-digit" });
  }
  const text = document.createElement("p");
  text.className = "text";
  text.dir = "auto"; // right-to-left scripts run right to left, punctuation in place
  appendLinked(text, entry.text || "");
  li.append(who, when, text);
  if (entry.party === "internal") line(li, "Niet zichtbaar voor de inwoner", "meta");
  for (const b of entry.buttons || []) line(li, "[" + b + "]", "meta");
  for (const a of entry.attachments || []) {
    if (isWebUrl(a.url)) li.append(link(a.url, "Bijlage: " + (a.name || a.url)));
  }
  return li;
}
