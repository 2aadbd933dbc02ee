/*
 * handover web widget. Embed with one tag, no build step:
 *   <script src="https://chat.example.nl/web/widget.js" data-tenant="demo" defer></script>
 * Optional: data-language="en" (else the tenant's setting, else <html lang>).
 *
 * It loads its stylesheet and the tenant's configuration (texts, theme, features) from
 * the same place as this script, and talks to the daemon over one websocket with the
 * JSON frames documented in adapters/web/README.md. The conversation id and token are
 * kept in sessionStorage, so the chat goes on across page navigation in the same tab.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.dataset.tenant) {
    if (window.console) console.error("handover widget: add data-tenant to the script tag");
    return;
  }
  var TENANT = script.dataset.tenant;
  var BASE = script.src.replace(/[^/]*(\?.*)?$/, ""); // ".../web/"
  var WS_URL = BASE.replace(/^http/, "ws") + "ws?tenant=" + encodeURIComponent(TENANT);
  var STORE_KEY = "handover:" + BASE + ":" + TENANT;
  var NPS_SIZE = 11;
  // When the open chat fills the screen (as in widget.css): then it is modal.
  var FULL_SCREEN = "(max-width: 30rem), (max-height: 30rem)";
  // A dead connection is noticed within PING_MS + PONG_MS even when no packet comes back
  // (a black-holed socket never closes by itself); a message not acknowledged within
  // ACK_MS shows as not delivered, with a retry.
  var PING_MS = 10000, PONG_MS = 5000, ACK_MS = 10000, OPEN_MS = 10000;

  var cfg = null;           // the tenant's widget configuration
  var T = null;             // texts in the chosen language
  var lang = "nl";
  var ui = {};              // DOM nodes
  var ws = null;
  var session = load();     // {conversation_id, token, open}
  var lastSeq = 0;          // highest conversation seq shown
  var shown = {};           // message ids shown (own ones too), never shown twice
  var pending = [];         // own frames sent but not acknowledged, resent after reconnect
  var retry = 0;
  var retryTimer = null;
  var typingTimer = null;
  var typingOn = false;
  var control = { state: "bot" };
  var connected = false;
  var unread = 0;           // others' messages that arrived while the chat was minimised
  var announceTimer = null;
  var pingTimer = null;     // the next heartbeat
  var deadTimer = null;     // no answer to the heartbeat (or to the opening) by then: dead
  var ackTimers = {};       // message id -> its ack deadline
  var replaying = 0;        // message frames still to come from the welcome's replay
  var quietTimer = null;

  // --- storage -----------------------------------------------------------------------

  function load() {
    try { return JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "{}"); }
    catch (e) { return {}; }
  }
  function save() {
    try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(session)); } catch (e) { /* private mode */ }
  }

  // --- helpers -----------------------------------------------------------------------

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    if (text != null) node.textContent = text;
    return node;
  }
  function fill(text, params) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) { return params && k in params ? params[k] : m; });
  }
  function newId() {
    var a = new Uint8Array(12);
    window.crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  // Text with its http(s) links made clickable, built from text nodes and anchors only:
  // a message's text never goes through innerHTML, and no other scheme becomes a link.
  var URL_IN_TEXT = /https?:\/\/[^\s<>"']+/gi;
  function appendLinked(parent, text) {
    var at = 0, found;
    URL_IN_TEXT.lastIndex = 0;
    while ((found = URL_IN_TEXT.exec(text))) {
      var url = found[0].replace(/[.,;:!?)\]}'"]+$/, ""); // sentence punctuation is no part of it
      var href = null;
      try {
        var parsed = new URL(url);
        if (parsed.protocol === "http:" || parsed.protocol === "https:") href = parsed.href;
      } catch (e) { /* not a URL after all: stays text */ }
      if (!href) continue;
      if (found.index > at) parent.appendChild(document.createTextNode(text.slice(at, found.index)));
      parent.appendChild(el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", "class": "hw-link" }, url));
      at = found.index + url.length;
      URL_IN_TEXT.lastIndex = at;
    }
    if (at < text.length) parent.appendChild(document.createTextNode(text.slice(at)));
  }
  function clockTime(iso) {
    var when = iso ? new Date(iso) : new Date();
    if (isNaN(when.getTime())) when = new Date();
    var node = el("time", { "class": "hw-time", datetime: when.toISOString() },
                  when.toLocaleTimeString(lang === "en" ? "en-GB" : "nl-NL", { hour: "2-digit", minute: "2-digit" }));
    return node;
  }
  function siteimprove(action, label) {
    // SiteImprove analytics, when the page has it: _sz.push(['event', category, action, label]).
    if (window._sz && typeof window._sz.push === "function") {
      window._sz.push(["event", "handover-widget", action, label || ""]);
    }
  }
  function pageContext() {
    if (!cfg.features.page_context) return undefined;
    // Without query string and fragment: those may hold what a citizen searched or typed.
    function clean(u) { return u ? String(u).split(/[?#]/)[0].slice(0, 2048) : ""; }
    return { url: clean(location.href), title: document.title.slice(0, 2048), referrer: clean(document.referrer) };
  }
  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  // --- building the widget ---------------------------------------------------------------

  function build() {
    var root = el("div", { "class": "hw-root " + cfg.theme_class, lang: lang, "data-open": "false" });
    var launcher = el("button", { type: "button", "class": "hw-launcher", "aria-expanded": "false", "aria-controls": "hw-panel" }, T.open);
    // Unread while minimised: a visible count (its words for screen readers) on the
    // launcher, and a live region outside the hidden panel that says so once.
    var badge = el("span", { "class": "hw-badge", hidden: "" });
    var badgeCount = el("span", { "aria-hidden": "true" });
    var badgeWords = el("span", { "class": "hw-visually-hidden" });
    badge.appendChild(badgeCount);
    badge.appendChild(badgeWords);
    launcher.appendChild(badge);
    var announcer = el("p", { "class": "hw-announcer hw-visually-hidden", "aria-live": "polite" });
    var panel = el("section", { id: "hw-panel", "class": "hw-panel", role: "dialog", "aria-labelledby": "hw-title", hidden: "" });
    var header = el("div", { "class": "hw-header" });
    var title = el("h2", { id: "hw-title", "class": "hw-title" }, T.title);
    // It minimises (the chat goes on), so it says so, and shows a minimise sign, not an x.
    var close = el("button", { type: "button", "class": "hw-close", "aria-label": T.minimise, title: T.minimise });
    close.appendChild(el("span", { "class": "hw-minimise-sign", "aria-hidden": "true" }));
    var end = el("button", { type: "button", "class": "hw-end", hidden: "" }, T.end_chat);
    header.appendChild(title);
    header.appendChild(end);
    header.appendChild(close);
    // Ending asks first, in the panel: a mistaken tap must not end a long wait.
    var confirm = el("div", { "class": "hw-confirm", role: "group", "aria-labelledby": "hw-confirm-text", hidden: "" });
    confirm.appendChild(el("p", { id: "hw-confirm-text" }, T.end_confirm));
    var endYes = el("button", { type: "button", "class": "hw-end-yes" }, T.end_yes);
    var endNo = el("button", { type: "button", "class": "hw-end-no" }, T.end_no);
    confirm.appendChild(endYes);
    confirm.appendChild(endNo);
    // Not a live region: every change of who speaks also comes as a message in the log,
    // which is announced; saying it here too made screen readers say it twice. The
    // connection's own ups and downs are said by `linkNews`.
    var status = el("p", { "class": "hw-status" });
    var linkNews = el("p", { "class": "hw-visually-hidden", role: "status" });
    // The log region announces new messages; the list inside keeps list semantics.
    var logRegion = el("div", { "class": "hw-messages", role: "log", "aria-live": "polite", "aria-label": T.messages_label, tabindex: "0" });
    // What greets the citizen: who answers first (a computer), and that a person can.
    logRegion.appendChild(el("p", { "class": "hw-greeting", dir: "auto" }, T.greeting));
    var log = el("ol", { "class": "hw-message-list" });
    logRegion.appendChild(log);
    var typing = el("p", { "class": "hw-typing", "aria-hidden": "true" });
    var actions = el("div", { "class": "hw-actions" });
    var person = el("button", { type: "button", "class": "hw-request-agent" }, T.request_agent);
    if (cfg.features.request_agent) actions.appendChild(person);
    var form = el("form", { "class": "hw-form" });
    var note = el("p", { "class": "hw-note", "aria-live": "polite" });
    var label = el("label", { "for": "hw-input", "class": "hw-visually-hidden" }, T.input_label);
    var input = el("textarea", { id: "hw-input", "class": "hw-input", rows: "2", placeholder: T.placeholder, maxlength: String(cfg.max_text_length || 2000), autocomplete: "off" });
    var send = el("button", { type: "submit", "class": "hw-send" }, T.send);
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);
    [header, confirm, status, linkNews, logRegion, typing, actions, note, form].forEach(function (n) { panel.appendChild(n); });
    root.appendChild(panel);
    root.appendChild(launcher);
    root.appendChild(announcer);
    document.body.appendChild(root);
    ui = { root: root, launcher: launcher, badge: badge, badgeCount: badgeCount, badgeWords: badgeWords,
           announcer: announcer, panel: panel, close: close, status: status, log: log, logRegion: logRegion,
           typing: typing, person: person, form: form, input: input, actions: actions, note: note,
           end: end, confirm: confirm, endYes: endYes, endNo: endNo, linkNews: linkNews };

    launcher.addEventListener("click", function () { setOpen(true, true); });
    close.addEventListener("click", function () { setOpen(false, true); });
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") setOpen(false, true);
      else if (e.key === "Tab" && fullScreen()) keepFocusInside(e);
    });
    if (window.matchMedia) {
      var query = window.matchMedia(FULL_SCREEN);
      if (query.addEventListener) query.addEventListener("change", markModal);
    }
    person.addEventListener("click", requestAgent);
    end.addEventListener("click", function () { ui.confirm.hidden = false; endYes.focus(); });
    endNo.addEventListener("click", function () { ui.confirm.hidden = true; end.focus(); });
    endYes.addEventListener("click", leave);
    form.addEventListener("submit", function (e) { e.preventDefault(); sendText(); });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); sendText(); }
    });
    input.addEventListener("input", onTyping);
    input.addEventListener("paste", warnTooLong);
    followLayout();
    showState();
  }

  function setOpen(open, byUser) {
    session.open = open;
    save();
    ui.panel.hidden = !open;
    ui.launcher.hidden = open;
    ui.root.setAttribute("data-open", String(open));
    markModal();
    ui.launcher.setAttribute("aria-expanded", String(open));
    if (open) { markSeen(); connect(); }
    if (!byUser) return; // restoring after a page load: never steal the page's focus
    if (open) {
      siteimprove("opened");
      ui.input.focus();   // focus moves into the chat when it opens...
    } else {
      ui.launcher.focus(); // ...and back to the button that opened it when it closes
    }
  }

  // A person has taken over: the bot's quick replies would now send their text to the
  // agent, so they are spent.
  function retireBotChoices() {
    var old = ui.log.querySelectorAll(".hw-msg--bot .hw-choice");
    for (var i = 0; i < old.length; i++) old[i].disabled = true;
  }

  // --- keeping the newest message in view -------------------------------------------------

  // Pinned to the end unless the citizen scrolled back to read: then a layout change
  // (the talk-to-a-person button coming back, the text box growing) leaves them there.
  var pinned = true;
  var placedAt = 0;         // where scrollToEnd put the log: its own scroll events are not the citizen's
  function scrollToEnd() {
    ui.logRegion.scrollTop = ui.logRegion.scrollHeight;
    placedAt = ui.logRegion.scrollTop;
    pinned = true;
  }
  function followLayout() {
    ui.logRegion.addEventListener("scroll", function () {
      var r = ui.logRegion;
      if (Math.abs(r.scrollTop - placedAt) < 2) return;
      pinned = r.scrollHeight - r.scrollTop - r.clientHeight < 24;
    });
    if (!window.ResizeObserver) return;
    var watch = new ResizeObserver(function () { if (pinned) scrollToEnd(); });
    watch.observe(ui.logRegion);
    watch.observe(ui.log);
  }

  // --- a paste longer than the text box takes -----------------------------------------------

  function warnTooLong(e) {
    var max = ui.input.maxLength;
    var pasted = (e.clipboardData || window.clipboardData);
    pasted = pasted ? pasted.getData("text") : "";
    var kept = ui.input.value.length - (ui.input.selectionEnd - ui.input.selectionStart);
    ui.note.textContent = max > 0 && kept + pasted.length > max ? fill(T.too_long, { max: max }) : "";
  }

  // --- full screen: a modal dialog ------------------------------------------------------------

  function fullScreen() {
    return !!(window.matchMedia && window.matchMedia(FULL_SCREEN).matches);
  }

  // Full screen, the page under the panel cannot be seen: it is a modal dialog then, and
  // Tab must not wander to the page's links behind it (WCAG 2.4.11).
  function markModal() {
    if (fullScreen() && !ui.panel.hidden) ui.panel.setAttribute("aria-modal", "true");
    else ui.panel.removeAttribute("aria-modal");
  }

  function keepFocusInside(e) {
    var all = ui.panel.querySelectorAll("button, textarea, input, a[href], [tabindex]");
    var stops = Array.prototype.filter.call(all, function (n) {
      return !n.disabled && n.tabIndex >= 0 && n.getClientRects().length > 0;
    });
    if (!stops.length) return;
    var first = stops[0], last = stops[stops.length - 1];
    var at = document.activeElement;
    if (e.shiftKey && (at === first || !ui.panel.contains(at))) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && (at === last || !ui.panel.contains(at))) { e.preventDefault(); first.focus(); }
  }

  // --- unread while minimised ---------------------------------------------------------------

  // session.seen_seq is the newest message the citizen had in view: a replay after a
  // reload or a navigation counts only what came after it.
  function markSeen() {
    unread = 0;
    if (lastSeq > (session.seen_seq || 0)) { session.seen_seq = lastSeq; save(); }
    showUnread();
  }

  function countUnread(frame) {
    if (frame.party === "citizen" || !frame.seq) return;
    if (session.open) {
      if (frame.seq > (session.seen_seq || 0)) { session.seen_seq = frame.seq; save(); }
      return;
    }
    if (frame.seq <= (session.seen_seq || 0)) return;
    unread += 1;
    showUnread();
  }

  function showUnread() {
    var words = unread === 1 ? T.unread_one : fill(T.unread_many, { count: unread });
    ui.badge.hidden = unread === 0;
    ui.badgeCount.textContent = unread ? String(unread) : "";
    ui.badgeWords.textContent = unread ? words : "";
    // One announcement for a burst (a replay brings several at once), not one per message.
    clearTimeout(announceTimer);
    if (!unread) { ui.announcer.textContent = ""; return; }
    announceTimer = setTimeout(function () { ui.announcer.textContent = words; }, 400);
  }

  // --- showing things --------------------------------------------------------------------

  function senderLabel(party, name) {
    if (party === "citizen") return T.you;
    if (party === "bot") return T.bot_name;
    if (party === "agent") return name || T.agent_fallback_name;
    return T.system;
  }

  function isScale(buttons) {
    if (!buttons || buttons.length !== NPS_SIZE) return false;
    return buttons.every(function (b, i) { return String(b.title).trim() === String(i); });
  }

  function renderMessage(frame) {
    var party = frame.party;
    var item = el("li", { "class": "hw-msg hw-msg--" + party, "data-party": party, "data-message-id": frame.message_id });
    if (frame.seq) item.setAttribute("data-seq", String(frame.seq));
    var head = el("p", { "class": "hw-meta" });
    head.appendChild(el("span", { "class": "hw-sender" }, senderLabel(party, frame.sender_name)));
    // Who is speaking, in words as well as colour: a computer, or a person by name.
    var role = party === "bot" ? T.bot_role : party === "agent" ? T.agent_role : null;
    if (role) head.appendChild(el("span", { "class": "hw-role" }, role));
    head.appendChild(clockTime(frame.created_at));
    // dir="auto": Arabic or Hebrew text runs right to left, with its punctuation in place.
    var body = el("p", { "class": "hw-text", dir: "auto" });
    appendLinked(body, (frame.content && frame.content.text) || "");
    item.appendChild(head);
    item.appendChild(body);
    var content = frame.content || {};
    (content.attachments || []).forEach(function (a) {
      if (!/^https?:/i.test(a.url)) return;
      var link = el("a", { href: a.url, target: "_blank", rel: "noopener noreferrer", "class": "hw-attachment" }, a.name || a.url);
      item.appendChild(link);
    });
    if (content.buttons && content.buttons.length) {
      item.appendChild(isScale(content.buttons) ? renderScale(content.buttons) : renderButtons(content.buttons));
    }
    // History replayed after a reload or a navigation was seen before: it just stands there.
    if (!reducedMotion() && !frame.replayed) item.classList.add("hw-msg--enter");
    place(item, frame.seq);
    scrollToEnd();
    return item;
  }

  // Messages stand in conversation order (seq). The citizen's own messages that are not
  // yet acknowledged stay at the bottom until they are.
  function place(item, seq) {
    var children = ui.log.children;
    for (var i = 0; seq && i < children.length; i++) {
      var other = children[i];
      if (other === item) continue;
      var otherSeq = Number(other.getAttribute("data-seq") || 0);
      if (otherSeq > seq || (!otherSeq && other.classList.contains("hw-msg--sending"))) {
        ui.log.insertBefore(item, other);
        return;
      }
    }
    ui.log.appendChild(item);
  }

  function choose(group, button, pressed) {
    var buttons = group.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
    if (pressed) {
      // The choice stays visible as chosen, in words too, while the others are spent.
      pressed.setAttribute("aria-pressed", "true");
      pressed.classList.add("hw-chosen");
      pressed.setAttribute("aria-label", (pressed.getAttribute("aria-label") || pressed.textContent) + ", " + T.chosen);
    }
    ui.input.focus(); // the chosen button is now disabled: keep the focus in the chat
    send({ type: "message", message_id: newId(), text: button.title, payload: button.payload }, button.title);
  }

  function renderButtons(buttons) {
    var group = el("div", { "class": "hw-buttons", role: "group" });
    buttons.forEach(function (b) {
      var btn = el("button", { type: "button", "class": "hw-choice" }, b.title);
      btn.addEventListener("click", function () { choose(group, b, btn); });
      group.appendChild(btn);
    });
    return group;
  }

  function renderScale(buttons) {
    // The NPS question: one labelled group of 0-10, ends named for screen readers.
    var set = el("fieldset", { "class": "hw-scale" });
    // The question is in the message above; the legend names the group for screen readers.
    set.appendChild(el("legend", { "class": "hw-visually-hidden" }, T.nps_legend));
    var row = el("div", { "class": "hw-scale-row" });
    buttons.forEach(function (b, i) {
      var name = i === 0 ? b.title + " – " + T.nps_low : i === NPS_SIZE - 1 ? b.title + " – " + T.nps_high : b.title;
      var btn = el("button", { type: "button", "class": "hw-scale-choice", "aria-label": name }, b.title);
      btn.addEventListener("click", function () {
        siteimprove("nps_given", b.payload);
        choose(set, b, btn);
      });
      row.appendChild(btn);
    });
    set.appendChild(row);
    var ends = el("div", { "class": "hw-scale-ends", "aria-hidden": "true" });
    ends.appendChild(el("span", {}, T.nps_low));
    ends.appendChild(el("span", {}, T.nps_high));
    set.appendChild(ends);
    return set;
  }

  function showState() {
    var s = control.state, text;
    var away = !connected && (retry > 0 || retryTimer || offline());
    if (away) text = offline() ? T.offline : T.reconnecting;
    else if (s === "handover_pending") text = T.state_pending;
    else if (s === "queued") {
      text = control.queue_position != null ? fill(T.state_queued_position, { position: control.queue_position }) : T.state_queued;
      if (control.estimated_wait_seconds != null) {
        text += " " + fill(T.state_wait, { minutes: Math.max(1, Math.round(control.estimated_wait_seconds / 60)) });
      }
    } else if (s === "agent") text = fill(T.state_agent, { name: control.agent_name || T.agent_fallback_name });
    else if (s === "survey") text = T.state_survey;
    // The daemon, not the assistant, asks the callback request's questions.
    else if (s === "callback") text = T.state_callback;
    else if (s === "closed") text = T.state_closed;
    else text = T.state_bot;
    if (ui.status.textContent !== text) {
      ui.status.textContent = text;
      if (s === "queued" && !away) sayOnce(text);
    }
    ui.root.setAttribute("data-state", connected ? s : "reconnecting");
    var busy = s === "handover_pending" || s === "queued" || s === "agent";
    // During a callback request nobody is free: asking for a person again only repeats
    // the question, so the button waits until the request is done or stopped.
    ui.person.hidden = busy || s === "callback" || !cfg.features.request_agent;
    // Ending is offered while there is something to end: a wait, or a person's chat.
    ui.end.hidden = !busy || !session.token;
    if (ui.end.hidden) ui.confirm.hidden = true;
    // The connection's state is said once when it changes (the status line is not live).
    var news = away ? text : (wasAway ? T.connected : ui.linkNews.textContent);
    if (ui.linkNews.textContent !== news) ui.linkNews.textContent = news;
    wasAway = away;
  }
  var wasAway = false;

  // The queue position is news only the status line carries (the log's queue notice may
  // not have the number): say it, unless a notice in the log just said the same.
  var sayTimer = null;
  function sayOnce(text) {
    clearTimeout(sayTimer);
    sayTimer = setTimeout(function () {
      var recent = Array.prototype.slice.call(ui.log.querySelectorAll(".hw-text"), -3);
      var said = recent.some(function (n) { return n.textContent.indexOf(text) >= 0; });
      if (!said && ui.status.textContent === text) ui.linkNews.textContent = text;
    }, 400);
  }
  function offline() { return navigator.onLine === false; }

  function showTyping(frame) {
    ui.typing.textContent = frame.on ? fill(T.typing, { name: control.agent_name || T.agent_fallback_name }) : "";
  }

  // --- the socket --------------------------------------------------------------------------

  function connect() {
    if (ws || offline()) return;
    clearTimeout(retryTimer);
    retryTimer = null;
    var sock = new WebSocket(WS_URL);
    ws = sock;
    // An opening that never completes (the network swallows it) counts as failed.
    expectAnswer(OPEN_MS);
    sock.onopen = function () {
      var hello = { type: "hello", tenant: TENANT, language: lang, last_seq: lastSeq };
      var context = pageContext();
      if (context) hello.context = context;
      if (session.conversation_id && session.token) {
        hello.conversation_id = session.conversation_id;
        hello.token = session.token;
      }
      sock.send(JSON.stringify(hello));
    };
    sock.onmessage = function (event) {
      if (ws !== sock) return;
      heard();
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      var handler = handlers[frame.type];
      if (handler) handler(frame);
    };
    sock.onclose = function (event) { if (ws === sock) lost(event.code); };
  }

  // The socket is gone (closed, or given up on): come back after a growing pause.
  function lost(code) {
    var sock = ws;
    ws = null;
    connected = false;
    clearTimeout(pingTimer);
    clearTimeout(deadTimer);
    if (sock) { sock.onclose = null; try { sock.close(); } catch (e) { /* already closing */ } }
    if (code === 4403 || code === 4404) {
      // The stored conversation is gone (erased, or another daemon): start afresh.
      session = { open: session.open };
      save();
      lastSeq = 0;
      shown = {};
      pending = [];
      ui.log.textContent = "";
    }
    if (code === 4400) { ui.status.textContent = T.error; return; }
    retry += 1;
    var delay = code === 4429 ? 30000 : Math.min(15000, 500 * Math.pow(2, retry - 1));
    if (!offline()) retryTimer = setTimeout(connect, delay * (0.5 + Math.random() / 2));
    showState();
  }

  // The citizen asks (retry) or the network is back: try now, not after the backoff, and
  // give up an opening that hangs.
  function reconnectNow() {
    if (ws && connected) return;
    if (ws) { var hung = ws; ws = null; hung.onclose = null; try { hung.close(); } catch (e) { /* gone */ } }
    retry = 0;
    clearTimeout(retryTimer);
    retryTimer = null;
    clearTimeout(deadTimer);
    connect();
  }

  // Heartbeat: any frame from the daemon shows the line is alive; a `ping` asks for one.
  function expectAnswer(ms) {
    clearTimeout(deadTimer);
    deadTimer = setTimeout(function () { lost(0); }, ms);
  }
  function heard() {
    clearTimeout(deadTimer);
    clearTimeout(pingTimer);
    pingTimer = setTimeout(ping, PING_MS);
  }
  function ping() {
    if (!ws || !connected) return;
    ws.send(JSON.stringify({ type: "ping" }));
    expectAnswer(PONG_MS);
  }

  // The page goes to the background or comes back: the daemon counts a socket that
  // closes while hidden, and is not back within its grace period, as the citizen leaving.
  function tellVisibility(hidden) {
    if (ws && connected) ws.send(JSON.stringify({ type: "visibility", hidden: hidden }));
  }

  var handlers = {
    welcome: function (f) {
      connected = true;
      retry = 0;
      if (f.token) {
        session.conversation_id = f.conversation_id;
        session.token = f.token;
        save();
      }
      control = f.state;
      startReplay(f.replay || 0);
      showState();
      if (document.visibilityState === "hidden") tellVisibility(true);
      // Unacknowledged messages go again with the same ids: the daemon stores each once.
      pending.forEach(function (p) { ws.send(JSON.stringify(p)); });
    },
    message: function (f) {
      if (replaying > 0) { f.replayed = true; replaying -= 1; if (!replaying) endReplay(); }
      if (f.seq) lastSeq = Math.max(lastSeq, f.seq);
      if (shown[f.message_id]) {
        // Our own message, replayed with its place in the conversation: move it there.
        var own = f.seq && ui.log.querySelector('[data-message-id="' + CSS.escape(f.message_id) + '"]');
        if (own && !own.getAttribute("data-seq")) {
          own.setAttribute("data-seq", String(f.seq));
          delivered(f.message_id);
          place(own, f.seq);
        }
        return;
      }
      shown[f.message_id] = true;
      renderMessage(f);
      countUnread(f);
    },
    ack: function (f) {
      delivered(f.message_id || f.action_id);
      if (f.action_id && f.action_id === leftWith) {
        // The daemon has it: the chat is over (it sends no state for a citizen who left).
        leftWith = null;
        control = { state: "closed" };
        showState();
        ui.linkNews.textContent = T.state_closed;
      }
    },
    error: function (f) {
      if (f.code === "unavailable") return; // stays pending; resent after reconnect
      pending = pending.filter(function (p) { return (p.message_id || p.action_id) !== f.ref; });
      clearTimeout(ackTimers[f.ref]);
      var item = f.ref && ui.log.querySelector('[data-message-id="' + CSS.escape(f.ref) + '"]');
      var reason = f.code === "rate_limited" ? T.rate_limited : T.error;
      if (item) {
        item.classList.remove("hw-msg--sending");
        item.classList.add("hw-msg--failed");
        item.appendChild(el("p", { "class": "hw-failed" }, fill(T.not_sent, { reason: reason })));
      } else {
        ui.status.textContent = reason;
      }
    },
    state: function (f) {
      var joined = f.state === "agent" && control.state !== "agent";
      control = f;
      if (joined) siteimprove("agent_joined");
      if (f.state === "agent") retireBotChoices();
      if (f.state !== "agent") showTyping({ on: false });
      showState();
    },
    typing: function (f) { if (f.party === "agent") showTyping(f); },
    pong: function () { /* heard() did it */ }
  };

  // History replayed after a reload was announced when it first came: the log is quiet
  // while it comes in again, and speaks again once it is in.
  function startReplay(count) {
    replaying = count;
    if (!count) return;
    clearTimeout(quietTimer);
    ui.logRegion.setAttribute("aria-live", "off");
  }
  function endReplay() {
    clearTimeout(quietTimer);
    // After the screen reader has taken in the quiet additions.
    quietTimer = setTimeout(function () { ui.logRegion.setAttribute("aria-live", "polite"); }, 500);
  }

  // --- acknowledgements: delivered, or failed with a retry --------------------------------

  function delivered(id) {
    clearTimeout(ackTimers[id]);
    delete ackTimers[id];
    pending = pending.filter(function (p) { return (p.message_id || p.action_id) !== id; });
    var item = id && ui.log.querySelector('[data-message-id="' + CSS.escape(id) + '"]');
    if (!item) return;
    item.classList.remove("hw-msg--sending", "hw-msg--failed");
    var failed = item.querySelector(".hw-undelivered");
    if (failed) failed.remove();
  }

  function awaitAck(frame) {
    var id = frame.message_id;
    clearTimeout(ackTimers[id]);
    ackTimers[id] = setTimeout(function () { undelivered(frame); }, ACK_MS);
  }

  function undelivered(frame) {
    var item = ui.log.querySelector('[data-message-id="' + CSS.escape(frame.message_id) + '"]');
    if (!item || item.querySelector(".hw-undelivered")) return;
    item.classList.remove("hw-msg--sending");
    item.classList.add("hw-msg--failed");
    var box = el("p", { "class": "hw-undelivered" }, T.not_delivered + " ");
    var again = el("button", { type: "button", "class": "hw-retry" }, T.retry);
    again.addEventListener("click", function () {
      box.remove();
      item.classList.remove("hw-msg--failed");
      item.classList.add("hw-msg--sending");
      ui.input.focus();
      // The same id: the daemon stores it once, however often it arrives.
      if (pending.indexOf(frame) < 0) pending.push(frame);
      awaitAck(frame);
      if (ws && connected) ws.send(JSON.stringify(frame));
      else reconnectNow();
    });
    box.appendChild(again);
    item.appendChild(box);
    ping(); // no answer: perhaps the line is dead; find out now
  }

  function send(frame, shownText) {
    pending.push(frame);
    if (frame.type === "message") {
      shown[frame.message_id] = true;
      var item = renderMessage({ party: "citizen", message_id: frame.message_id, content: { text: shownText } });
      item.classList.add("hw-msg--sending");
      awaitAck(frame);
    }
    if (ws && connected) ws.send(JSON.stringify(frame));
    else connect();
  }

  function sendText() {
    var text = ui.input.value.trim();
    if (!text) return;
    ui.input.value = "";
    ui.note.textContent = "";
    stopTyping();
    send({ type: "message", message_id: newId(), text: text }, text);
    ui.input.focus();
  }

  var leftWith = null;      // the id of the `leave` action sent, until it is acknowledged
  function leave() {
    ui.confirm.hidden = true;
    siteimprove("chat_ended");
    leftWith = newId();
    send({ type: "action", action: "leave", action_id: leftWith });
    ui.input.focus();
  }

  function requestAgent() {
    siteimprove("handover_requested");
    var frame = { type: "action", action: "request_agent", action_id: newId() };
    var context = pageContext();
    if (context) frame.context = context;
    send(frame);
    ui.input.focus();
  }

  function onTyping() {
    if (!cfg.features.typing || !ws || !connected) return;
    if (!typingOn) { typingOn = true; ws.send(JSON.stringify({ type: "typing", on: true })); }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  }
  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingOn && ws && connected) ws.send(JSON.stringify({ type: "typing", on: false }));
    typingOn = false;
  }

  // --- start -------------------------------------------------------------------------------

  function addStylesheet(href) {
    var link = el("link", { rel: "stylesheet", href: href });
    document.head.appendChild(link);
  }

  function start(config) {
    cfg = config;
    var pageLang = (document.documentElement.lang || "").toLowerCase().slice(0, 2);
    lang = script.dataset.language || cfg.language || (pageLang === "en" ? "en" : "nl");
    if (!cfg.texts[lang]) lang = "nl";
    T = cfg.texts[lang];
    addStylesheet(BASE + "widget.css");
    // The neutral theme is widget.css's fallbacks: nothing more to load for it, and a
    // page's own theme class on <html> or <body> reaches the widget unshadowed.
    if (cfg.theme_stylesheet) addStylesheet(cfg.theme_stylesheet);
    build();
    window.addEventListener("offline", function () { lost(0); });
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", function () { tellVisibility(document.visibilityState === "hidden"); });
    window.addEventListener("pagehide", function () { tellVisibility(true); });
    if (session.open) setOpen(true, false);
    else if (session.token) connect(); // a chat in progress on the previous page
  }

  fetch(BASE + "config/" + encodeURIComponent(TENANT), { credentials: "omit" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(start)
    .catch(function (e) { if (window.console) console.error("handover widget: no configuration", e); });
})();
