// The console page's extension points, for the agent's tools in files of their own
// (canned.js, notes.js, transfer.js, status.js, idle.js) so that console.js stays the
// workspace's core. console.js fills `page` with its functions and calls `emit`:
//   "signin" (the /api/me answer), "signout", "detail" (an open thread's detail, each
//   time it is shown), "event" (every live event, before console.js handles it).
// A tool registers with `on`; a failing tool must not break the workspace, so errors
// are logged and the other handlers still run.

export const page = {
  api: null, state: null, refreshAll: null, refreshDetail: null, signOut: null,
  select: null, alertAgent: null, explain: null,
};

const handlers = { signin: [], signout: [], detail: [], event: [] };

export function on(name, handler) { handlers[name].push(handler); }

export function emit(name, arg) {
  for (const handler of handlers[name]) {
    try { handler(arg); } catch (err) { console.error("console tool", name, err); }
  }
}

export const $ = (id) => document.getElementById(id);

/** The same announcement twice in a row is read out again: clear, then set (unless the
 * page signed out meanwhile: a signed-out page shows nothing of the session). */
export function announce(element, text) {
  const session = page.state && page.state.session;
  element.textContent = "";
  setTimeout(() => {
    if (!page.state || (page.state.session === session && page.state.me)) element.textContent = text;
  }, 50);
}
