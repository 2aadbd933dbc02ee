// The page's live socket (see the README's "Live updates"): opened after sign-in,
// reopened with a growing delay when it drops, and given up at sign-out (which clears
// `state.ws`, so a late event of the old socket is ignored).

const $ = (id) => document.getElementById(id);

/** Open the live socket of the signed-in page; `onEvent` gets every pushed event. */
export function connect(state, base, api, onEvent) {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  // The token goes in the subprotocol header (base64url), checked before the upgrade:
  // never in the URL, which proxies log. The server answers "handover.console" only.
  const encoded = btoa(String.fromCharCode(...new TextEncoder().encode(state.token)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const ws = new WebSocket(scheme + location.host + base + "api/live",
    ["handover.console", "auth." + encoded]);
  let opened = false;
  state.ws = ws;
  $("connection-status").textContent = "Verbinden…";
  ws.addEventListener("open", () => { opened = true; });
  ws.addEventListener("message", (msg) => {
    if (state.ws !== ws) return; // signed out, or replaced
    let event;
    try { event = JSON.parse(msg.data); } catch (e) { return; }
    onEvent(event);
  });
  ws.addEventListener("close", () => {
    if (state.ws !== ws) return; // signed out, or replaced
    state.ws = null;
    // Refused before the upgrade (the page cannot see why): ask over HTTP, which signs
    // out when the token is no longer valid.
    if (!opened) api("me").catch(() => {});
    $("connection-status").textContent = "Verbinding verbroken, opnieuw verbinden…";
    const delay = state.retryMs;
    state.retryMs = Math.min(state.retryMs * 2, 30000);
    state.retryTimer = setTimeout(() => {
      if (state.token && !state.ws) connect(state, base, api, onEvent);
    }, delay);
  });
}
