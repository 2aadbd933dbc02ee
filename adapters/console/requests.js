// "Contactverzoeken": the callback requests of the agent's municipalities (requests.py).
// A module of its own beside console.js: it reads the sign-in state from the page (the
// workspace shows only while signed in) and the token from the same sessionStorage key,
// and empties itself the moment the page signs out (the workstation may be shared).
//
// The list is fetched when the agent opens it, when console.js passes on the live
// socket's "callbacks" event (a request came, was claimed or closed, on any instance),
// after each action, and every POLL_MS while signed in (in case a push was missed).

const TOKEN_KEY = "handover.console.token";
const POLL_MS = 30000;
const base = location.pathname.replace(/[^/]*$/, "");
const $ = (id) => document.getElementById(id);

const state = {
  requests: [], outcomes: [], timer: null, session: 0, me: null,
  // request id -> [the request as last drawn (JSON), its list item]: an item is drawn
  // again only when its request changed, so a refresh neither moves the agent's focus
  // nor resets an outcome they were choosing.
  drawn: new Map(),
  // Refreshes are numbered: an answer older than the one on screen is not drawn.
  fetches: 0, shownFetch: 0,
};

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, body) {
  const session = state.session;
  const response = await fetch(base + "api/" + path, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      Authorization: "Bearer " + token(),
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (session !== state.session) throw new Error("signed out");
  if (!response.ok) {
    const err = new Error((data && data.detail) || "Er ging iets mis.");
    err.status = response.status;
    err.code = data && data.error;
    throw err;
  }
  return data;
}

// --- rendering ----------------------------------------------------------------------

const WHEN = new Intl.DateTimeFormat("nl-NL", {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
});

function when(iso) { return iso ? WHEN.format(new Date(iso)) : ""; }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function statusText(r) {
  if (r.status === "open") return "Open";
  if (r.status === "claimed") return "Opgepakt door " + (r.agent_name || "een collega");
  return "Afgehandeld: " + (r.outcome_label || r.outcome || "");
}

function reach(r) {
  // A link the agent's softphone or mail program picks up; the text is the address.
  const link = el("a", { href: (r.address_kind === "email" ? "mailto:" : "tel:") + r.address },
    r.address);
  return [r.address_kind === "email" ? "E-mail: " : "Telefoon: ", link];
}

function detailRow(list, term, ...value) {
  list.append(el("dt", { text: term }), el("dd", {}, ...value));
}

function item(r) {
  const headingId = "callback-" + r.request_id;
  const article = el("article", {
    class: r.status === "closed" ? "callback callback-closed" : "callback",
    "aria-labelledby": headingId,
  });
  const topic = r.topic_label || r.topic || "Geen onderwerp";
  article.append(el("h3", { id: headingId, text: "Referentie " + r.reference + " – " + topic }));
  const details = el("dl", { class: "details" });
  detailRow(details, "Status", statusText(r));
  detailRow(details, "Geplaatst", when(r.placed_at));
  if (state.me && state.me.tenants.length > 1) detailRow(details, "Gemeente", r.tenant_name);
  detailRow(details, "Kanaal", r.channel_label);
  detailRow(details, "Taal", r.language_label);
  detailRow(details, "Naam", r.name || "Niet opgegeven");
  detailRow(details, "Bereikbaar via", ...reach(r));
  if (r.callback_text) detailRow(details, "Terugbellen", r.callback_text);
  article.append(details);
  article.append(el("p", { class: "callback-question-label", text: "Vraag" }),
    el("blockquote", { class: "callback-question", text: r.question }));
  const error = el("p", { class: "error", role: "alert", id: "callback-error-" + r.request_id });
  const mine = state.me && r.agent_id === state.me.agent.id;
  if (r.status === "open") {
    const claim = el("button", {
      type: "button", id: "callback-claim-" + r.request_id, text: "Oppakken",
    });
    claim.addEventListener("click", () => act(claim, error, r, "claim"));
    article.append(claim);
  } else if (r.status === "claimed" && mine) {
    const form = el("form", { class: "callback-close", novalidate: "" });
    const selectId = "callback-outcome-" + r.request_id;
    const select = el("select", { id: selectId, required: "" },
      el("option", { value: "", text: "Kies een uitkomst" }),
      ...state.outcomes.map((o) => el("option", { value: o.value, text: o.label })));
    const close = el("button", {
      type: "submit", id: "callback-close-" + r.request_id, text: "Afhandelen",
    });
    const release = el("button", {
      type: "button", class: "secondary", id: "callback-release-" + r.request_id,
      text: "Teruggeven",
    });
    form.append(el("label", { for: selectId, text: "Uitkomst" }), select, close, release);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!select.value) { error.textContent = "Kies eerst een uitkomst."; select.focus(); return; }
      act(close, error, r, "close", { outcome: select.value });
    });
    release.addEventListener("click", () => act(release, error, r, "release"));
    article.append(form);
  }
  article.append(error);
  return el("li", {}, article);
}

function render() {
  const open = state.requests.filter((r) => r.status !== "closed");
  $("callbacks-toggle").textContent = "Contactverzoeken (" + open.length + ")";
  const list = $("callbacks-list");
  const focused = document.activeElement && list.contains(document.activeElement)
    ? document.activeElement.id : null;
  const drawn = new Map();
  const wanted = state.requests.map((r) => {
    const key = JSON.stringify(r);
    const before = state.drawn.get(r.request_id);
    let li = before && before[0] === key ? before[1] : null;
    if (!li) {
      li = item(r);
      if (before && before[1].isConnected) before[1].replaceWith(li);
    }
    drawn.set(r.request_id, [key, li]);
    return li;
  });
  for (const child of [...list.children]) if (!wanted.includes(child)) child.remove();
  wanted.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  state.drawn = drawn;
  // A redrawn item took the focus with it: give it to the same control, or the list.
  if (focused && !list.contains(document.activeElement)) {
    ($(focused) || $("callbacks-title")).focus();
  }
  $("callbacks-empty").hidden = state.requests.length > 0;
}

// --- actions ------------------------------------------------------------------------

async function refresh() {
  if (!token()) return;
  const fetch = ++state.fetches;
  try {
    const data = await api("callbacks");
    if (fetch < state.shownFetch) return; // a later answer is on screen already
    state.shownFetch = fetch;
    state.requests = data.requests;
    state.outcomes = data.outcomes;
    $("callbacks-error").textContent = "";
    render();
  } catch (err) {
    if (err.status === 401 || err.status === 403 || err.message === "signed out") return;
    $("callbacks-error").textContent = "De contactverzoeken konden niet worden opgehaald.";
  }
}

async function act(button, error, r, action, body = {}) {
  button.disabled = true;
  error.textContent = "";
  try {
    await api("callbacks/" + encodeURIComponent(r.request_id) + "/" + action, body);
    const words = { claim: "opgepakt", release: "teruggegeven", close: "afgehandeld" };
    $("callbacks-announcer").textContent =
      "Contactverzoek " + r.reference + " " + words[action] + ".";
    await refresh();
    // Keep the agent where they were: on the same request's first control, or the list.
    const again = document.querySelector(
      "#callback-" + CSS.escape(r.request_id) + " ~ form select, #callback-"
      + CSS.escape(r.request_id) + " ~ button");
    (again || $("callbacks-title")).focus();
  } catch (err) {
    if (err.message === "signed out") return;
    const message = err.code === "taken" ? "Een collega heeft dit verzoek al opgepakt."
      : err.code === "not_yours" ? "Dit verzoek is door een collega opgepakt."
      : err.code === "closed" ? "Dit verzoek is al afgehandeld." : err.message;
    button.disabled = false;
    error.textContent = message;
    // Show the request as it now is (a colleague's claim, a close), and say why on the
    // request as drawn again (or above the list when it is gone).
    await refresh();
    const shown = $("callback-error-" + r.request_id) || $("callbacks-error");
    shown.textContent = message;
  }
}

// --- sign-in state ------------------------------------------------------------------

async function signedIn() {
  try { state.me = await api("me"); } catch (e) { return; }
  $("callbacks-toggle").hidden = false;
  await refresh();
  clearInterval(state.timer);
  state.timer = setInterval(refresh, POLL_MS);
}

function signedOut() {
  state.session += 1;
  clearInterval(state.timer);
  Object.assign(state, { requests: [], outcomes: [], timer: null, me: null, drawn: new Map() });
  // Nothing of a citizen may remain in the page, not even in hidden nodes.
  $("callbacks-list").replaceChildren();
  $("callbacks-announcer").textContent = "";
  $("callbacks-error").textContent = "";
  $("callbacks").hidden = true;
  $("callbacks-toggle").hidden = true;
  $("callbacks-toggle").setAttribute("aria-expanded", "false");
  $("callbacks-toggle").textContent = "Contactverzoeken";
}

function wire() {
  const toggle = $("callbacks-toggle");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    $("callbacks").hidden = !open;
    if (open) { refresh(); $("callbacks-title").focus(); }
  });
  $("callbacks").addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      toggle.setAttribute("aria-expanded", "false");
      $("callbacks").hidden = true;
      toggle.focus();
    }
  });
  document.addEventListener("console:callbacks", () => { if (state.me) refresh(); });
  const workspace = $("workspace");
  const follow = () => { if (workspace.hidden) signedOut(); else signedIn(); };
  new MutationObserver(follow).observe(workspace, { attributes: true, attributeFilter: ["hidden"] });
  if (!workspace.hidden) signedIn();
}

wire();
