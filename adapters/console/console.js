// The agent console page: plain JS, no build step. All data comes from the API of this
// console (same origin); the token lives in sessionStorage and travels as a bearer
// header (HTTP) or in the websocket's subprotocol header, never in a URL.
//
// The workstation may be shared: reply drafts are kept in memory only, one per thread, and
// signing out forgets every thread, draft and token and empties the page.
import {
  clearThreadView, entryItem, explain, outcomeOptions, renderDetailFields,
  tenantName, threadButton, topicText, waitingText, waitLine,
} from "./render.js";
import {
  NEW_MESSAGE, NEW_WAITING, alertAgent, pageTitle, renderSettingsPanel, settings, wireSettings,
} from "./alerts.js";
import { emit, page } from "./hooks.js";
import { apiClient, silent } from "./http.js";
import { connect as openLive } from "./connection.js";
import { wireClosing } from "./closing.js";

const TOKEN_KEY = "handover.console.token";
const TYPING_IDLE_MS = 3000;
const CITIZEN_TYPING_MS = 6000;
const base = location.pathname.replace(/[^/]*$/, "");
const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  threads: new Map(),
  selected: null,
  detail: null,
  shown: new Set(),
  ws: null,
  retryMs: 1000,
  retryTimer: null,
  // Bumped at sign-out: an answer to a request of an earlier session is thrown away.
  session: 0,
  // thread id -> the reply typed for it and not sent yet. The reply box shows the open
  // thread's draft; text never moves from one thread to another.
  drafts: new Map(),
  typingOn: false,
  typingTimer: null,
  citizenTypingTimer: null,
  pendingReply: null,
  // thread id -> messages the agent has not seen (the thread was not in view).
  unread: new Map(),
  // thread id -> the last message (for the list) and whether consent was asked, as the
  // thread's detail or a live event told; the list's summary does not carry them.
  lasts: new Map(),
  consentAsked: new Map(),
  // The list has been fetched once since sign-in: later arrivals are news.
  loaded: false,
  // The thread and outcome the close dialog asks about.
  closing: null,
};

const api = apiClient(state, base, (message) => signOut(message));

// --- sign in / out ----------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  const me = await api("me");
  sessionStorage.setItem(TOKEN_KEY, token);
  state.me = me;
  $("signin").hidden = true;
  $("workspace").hidden = false;
  $("signout").hidden = false;
  $("settings-toggle").hidden = false;
  $("agent-name").hidden = false;
  $("agent-name").textContent = "Aangemeld als " + me.agent.name;
  renderSettingsPanel(true);
  $("close-outcome").replaceChildren(...outcomeOptions(me.outcomes));
  openLive(state, base, api, onEvent);
  await refreshAll();
  emit("signin", me);
  // The agent starts from the list: the first waiting (or own) conversation.
  focusList();
}

function signOut(message) {
  stopTyping(); // the citizen should not see "typing" linger
  state.session += 1;
  emit("signout");
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.retryTimer);
  clearTimeout(state.typingTimer);
  clearTimeout(state.citizenTypingTimer);
  if (state.ws) { const ws = state.ws; state.ws = null; ws.close(1000); }
  Object.assign(state, {
    token: null, me: null, threads: new Map(), selected: null, detail: null,
    shown: new Set(), drafts: new Map(), unread: new Map(), pendingReply: null,
    typingOn: false, retryMs: 1000, retryTimer: null, lasts: new Map(),
    consentAsked: new Map(), loaded: false, closing: null,
  });
  // The next person at this workstation must find nothing of these conversations, not
  // even in hidden nodes.
  if ($("close-dialog").open) $("close-dialog").close();
  $("close-dialog-text").textContent = "";
  $("close-summary").value = "";
  renderLists();
  $("list-announcer").textContent = "";
  clearThreadView();
  $("close-outcome").replaceChildren();
  $("workspace").hidden = true;
  $("signout").hidden = true;
  $("settings").hidden = true;
  $("settings-toggle").hidden = true;
  $("settings-toggle").setAttribute("aria-expanded", "false");
  $("notify-enable").hidden = true;
  $("agent-name").hidden = true;
  $("agent-name").textContent = "";
  $("signin").hidden = false;
  $("connection-status").textContent = "Niet aangemeld";
  $("signin-error").textContent = message || "";
  $("token").value = "";
  $("token").focus();
}

// --- live updates -----------------------------------------------------------------

function onEvent(event) {
  emit("event", event);
  switch (event.type) {
    case "ready":
      state.retryMs = 1000;
      $("connection-status").textContent = "Verbonden";
      // Whatever happened while we were away: fetch it again.
      refreshAll();
      break;
    case "thread": {
      const before = state.threads.get(event.thread.thread_id);
      state.threads.set(event.thread.thread_id, event.thread);
      forgetEnded();
      if (!before && event.thread.status === "queued") newWaiting(event.thread);
      renderLists();
      if (!before) refreshLast(event.thread.thread_id); // what the citizen said so far
      if (event.thread.thread_id === state.selected) refreshDetail();
      break;
    }
    case "message":
      onMessage(event.thread_id, event.entry);
      break;
    case "note":
      if (event.thread_id === state.selected) refreshDetail();
      else refreshLast(event.thread_id);
      break;
    case "changed":
      if (event.thread_id === state.selected) refreshDetail();
      else refreshLast(event.thread_id);
      break;
    case "typing":
      if (event.thread_id === state.selected) showCitizenTyping(event.on);
      break;
    case "callbacks": // for requests.js, which has no socket of its own
      document.dispatchEvent(new CustomEvent("console:callbacks"));
      break;
  }
}

function newWaiting(t) {
  $("list-announcer").textContent = "Nieuw wachtend gesprek (" + tenantName(t) + ", "
    + topicText(t) + ")";
  if (!state.away) alertAgent(NEW_WAITING); // away: not offered new chats (status.js)
}

const inView = (threadId) => threadId === state.selected && document.visibilityState === "visible";
const mine = (t) => Boolean(t && t.agent && state.me && t.agent.id === state.me.agent.id);
/** Unread counts matter for what the agent may take or holds, not a colleague's chats. */
const followed = (t) => Boolean(t && (t.status === "queued" || (t.status === "active" && mine(t))));

function onMessage(threadId, entry) {
  if (["citizen", "agent", "note"].includes(entry.party)) state.lasts.set(threadId, entry);
  if (threadId === state.selected) {
    appendEntry(entry);
    showCitizenTyping(false);
  }
  const t = state.threads.get(threadId);
  if (!inView(threadId) && followed(t)) {
    // An agent with several chats must see (and hear) where the citizen answered.
    state.unread.set(threadId, (state.unread.get(threadId) || 0) + 1);
    if (threadId !== state.selected) {
      $("list-announcer").textContent = "Nieuw bericht in een ander gesprek (" + tenantName(t) + ")";
    }
    if (mine(t)) alertAgent(NEW_MESSAGE);
  }
  renderLists();
}

// --- the list ---------------------------------------------------------------------

async function refreshAll() {
  try {
    const data = await api("threads");
    const known = state.threads;
    state.threads = new Map(data.threads.map((t) => [t.thread_id, t]));
    for (const t of state.threads.values()) if (t.last_message) state.lasts.set(t.thread_id, t.last_message);
    // Arrived while the connection was down: as much news as a live one.
    const arrived = [...state.threads.values()].filter(
      (t) => t.status === "queued" && !known.has(t.thread_id));
    if (state.loaded && arrived.length) newWaiting(arrived[arrived.length - 1]);
    state.loaded = true;
    forgetEnded();
    renderLists();
    if (state.selected) await refreshDetail();
    fillLasts();
  } catch (err) {
    if (!silent(err)) $("connection-status").textContent = explain(err);
  }
}

/** The last message of open threads the list has none for, one request at a time. */
async function fillLasts() {
  const session = state.session;
  for (const t of [...state.threads.values()]) {
    if (session !== state.session) return;
    if (t.status !== "closed" && !state.lasts.has(t.thread_id)) await refreshLast(t.thread_id);
  }
}

async function refreshLast(threadId) {
  const t = state.threads.get(threadId);
  if (!t || t.status === "closed") return;
  try {
    const d = await api("threads/" + encodeURIComponent(threadId));
    noteDetail(d);
    renderLists();
  } catch (err) { /* the list shows the thread without its last message */ }
}

/** What a thread's detail tells the list. */
function noteDetail(d) {
  if (d.last_message) state.lasts.set(d.thread_id, d.last_message);
  state.consentAsked.set(d.thread_id, d.consent_asked === true);
}

function renderLists() {
  const groups = { queued: [], active: [], closed: [] };
  for (const t of state.threads.values()) {
    if (!t._seen) t._seen = Date.now();
    groups[t.status].push(t);
  }
  // The agent's own chats first: those are the ones being worked on.
  groups.active.sort((a, b) => Number(mine(b)) - Number(mine(a)));
  fill("list-waiting", "waiting-count", groups.queued);
  fill("list-active", "active-count", groups.active);
  fill("list-closed", "closed-count", groups.closed.reverse());
  let unread = 0;
  for (const [id, n] of state.unread) if (followed(state.threads.get(id))) unread += n;
  document.title = pageTitle(groups.queued.length, unread);
}

function fill(listId, countId, threads) {
  $(countId).textContent = String(threads.length);
  const list = $(listId);
  const focused = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.threadId : null;
  list.replaceChildren(...threads.map((t) => {
    const li = document.createElement("li");
    const button = threadButton(t, {
      selected: t.thread_id === state.selected,
      unread: followed(t) ? state.unread.get(t.thread_id) || 0 : 0,
      last: state.lasts.get(t.thread_id),
      consentAsked: state.consentAsked.get(t.thread_id),
    });
    button.addEventListener("click", () => select(t.thread_id, true));
    li.append(button);
    return li;
  }));
  if (focused) { const again = $("thread-item-" + focused); if (again) again.focus(); }
}

/** Focus the first conversation of the lists (waiting ones first), else the list itself. */
function focusList(except) {
  const items = [...document.querySelectorAll("#list-waiting .thread-item, #list-active .thread-item")]
    .filter((el) => el.dataset.threadId !== except);
  (items[0] || $("threads")).focus();
}

// --- drafts -----------------------------------------------------------------------

function dropDraft(threadId) {
  state.drafts.delete(threadId);
  if (state.pendingReply && state.pendingReply.threadId === threadId) state.pendingReply = null;
  if (state.selected === threadId) $("reply-text").value = "";
}

/** A closed (or forgotten) thread takes its draft and its unread count with it. */
function forgetEnded() {
  for (const id of [...state.drafts.keys()]) {
    const t = state.threads.get(id);
    if (!t || t.status === "closed") dropDraft(id);
  }
  for (const id of [...state.unread.keys()]) {
    if (!followed(state.threads.get(id))) state.unread.delete(id);
  }
}

// --- one thread -------------------------------------------------------------------

async function select(threadId, moveFocus) {
  state.unread.delete(threadId);
  if (state.selected !== threadId) {
    stopTyping();
    state.selected = threadId;
    state.detail = null;
    // The reply box now holds this thread's own draft (it was kept on every keystroke).
    $("reply-text").value = state.drafts.get(threadId) || "";
    // No outcome is chosen for the agent, and none carries over from another thread.
    $("close-outcome").value = "";
    // Until this thread's details are in, no action of the previous one is offered.
    $("pickup").hidden = true;
    $("reply-form").hidden = true;
    $("close-form").hidden = true;
    state.shown = new Set();
    $("transcript").replaceChildren();
    // Filling the list of another thread is not news: do not read it all out.
    $("transcript").setAttribute("aria-live", "off");
    $("thread-error").textContent = "";
    showCitizenTyping(false);
  }
  renderLists();
  await refreshDetail();
  if (state.selected !== threadId) return;
  $("transcript").setAttribute("aria-live", "polite");
  if (moveFocus) $("thread").focus();
}

async function refreshDetail() {
  const id = state.selected;
  if (!id) return;
  try {
    const detail = await api("threads/" + encodeURIComponent(id));
    if (state.selected !== id) return;
    state.detail = detail;
    detail._seen = Date.now();
    renderDetail(detail);
  } catch (err) {
    if (!silent(err)) $("thread-error").textContent = explain(err);
  }
}

function renderDetail(d) {
  $("thread-empty").hidden = true;
  $("thread-body").hidden = false;
  renderDetailFields(d);
  if (d.status === "closed") dropDraft(d.thread_id);
  noteDetail(d);

  const holder = mine(d);
  $("pickup").hidden = d.status !== "queued";
  $("reply-form").hidden = !(holder && d.status === "active");
  $("close-form").hidden = !(holder && d.status === "active");
  if (d.status !== "active") showCitizenTyping(false);
  for (const entry of d.transcript) appendEntry(entry);
  renderLists();
  emit("detail", d);
}

function appendEntry(entry) {
  if (state.shown.has(entry.message_id)) return;
  state.shown.add(entry.message_id);
  const li = entryItem(entry);
  const list = $("transcript");
  list.append(li);
  list.scrollTop = list.scrollHeight;
}

function showCitizenTyping(on) {
  clearTimeout(state.citizenTypingTimer);
  $("citizen-typing").textContent = on ? "De inwoner typt…" : "";
  // A lost "stopped typing" must not leave the hint on forever.
  if (on) state.citizenTypingTimer = setTimeout(() => showCitizenTyping(false), CITIZEN_TYPING_MS);
}

// --- actions ----------------------------------------------------------------------

async function act(button, work) {
  button.disabled = true;
  $("thread-error").textContent = "";
  try {
    await work();
  } catch (err) {
    if (!silent(err)) $("thread-error").textContent = explain(err);
    if (err.status === 409 && !silent(err)) await refreshAll();
  } finally {
    button.disabled = false;
  }
}

function sendTyping(on) {
  if (!state.selected || state.typingOn === on) return;
  state.typingOn = on;
  api("threads/" + encodeURIComponent(state.selected) + "/typing", { method: "POST", body: { on } })
    .catch(() => {});
}

function stopTyping() {
  clearTimeout(state.typingTimer);
  if (state.typingOn) sendTyping(false);
}

function newId() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
}

async function sendReply() {
  // The reply box holds the open thread's draft: it goes to that thread and no other.
  const threadId = state.selected;
  const text = $("reply-text").value.trim();
  if (!text || !threadId) return;
  // A retry of the same text after a failure keeps its id: the core drops a duplicate.
  const pending = state.pendingReply;
  if (!pending || pending.threadId !== threadId || pending.text !== text) {
    state.pendingReply = { threadId, id: newId(), text };
  }
  const reply = state.pendingReply;
  await api("threads/" + encodeURIComponent(threadId) + "/messages", {
    method: "POST", body: { message_id: reply.id, text },
  });
  if (state.pendingReply === reply) state.pendingReply = null;
  dropDraft(threadId);
  if (state.selected !== threadId) return; // the agent has moved on meanwhile
  stopTyping();
  await refreshDetail();
  $("reply-text").focus();
}

/** Whether this key press in the reply box sends: Ctrl/Cmd+Enter always; Enter alone when
 * the agent chose so (Shift+Enter then breaks the line); never while an IME composes. */
function sendsReply(e) {
  if (e.key !== "Enter" || e.isComposing) return false;
  if (e.ctrlKey || e.metaKey) return true;
  return settings.enterSends && !e.shiftKey && !e.altKey;
}

// --- wiring -----------------------------------------------------------------------

function wire() {
  $("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("token").value.trim();
    if (!token) { $("signin-error").textContent = "Vul uw token in."; return; }
    $("signin-error").textContent = "";
    try { await signIn(token); } catch (err) {
      if (!silent(err)) $("signin-error").textContent = explain(err);
    }
  });
  $("signout").addEventListener("click", () => signOut("U bent afgemeld."));
  $("pickup").addEventListener("click", () => act($("pickup"), async () => {
    await api("threads/" + encodeURIComponent(state.selected) + "/pickup", { method: "POST" });
    await refreshDetail();
    $("reply-text").focus();
  }));
  $("reply-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act($("reply-send"), sendReply);
  });
  $("reply-text").addEventListener("keydown", (e) => {
    if (!sendsReply(e)) return;
    e.preventDefault();
    act($("reply-send"), sendReply);
  });
  $("reply-text").addEventListener("input", () => {
    const text = $("reply-text").value;
    if (state.selected) {
      if (text) state.drafts.set(state.selected, text);
      else state.drafts.delete(state.selected);
    }
    sendTyping(text.length > 0);
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
  });
  wireClosing({ state, api, act, stopTyping, dropDraft, refreshAll, select, focusList, mine });
  wireSettings(() => Boolean(state.me));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.unread.has(state.selected)) {
      state.unread.delete(state.selected);
      renderLists();
    }
  });
  // Waiting times count on between updates.
  setInterval(() => {
    if (!state.me) return;
    for (const el of document.querySelectorAll(".thread-item")) {
      const t = state.threads.get(el.dataset.threadId);
      const wait = el.querySelector(".wait");
      if (t && t.status === "queued" && wait) wait.textContent = waitLine(t);
    }
    if (state.detail && state.detail.status === "queued") {
      $("detail-waiting").textContent = waitingText(state.detail);
    }
  }, 1000);
}

wire();
Object.assign(page, { api, state, refreshAll, refreshDetail, signOut, select, alertAgent, explain });
renderSettingsPanel(false);
if (state.token) {
  signIn(state.token).catch(() => signOut(""));
} else {
  $("token").focus();
}
