// The page's HTTP client for this console's API (same origin). The token travels as a
// bearer header, never in a URL; an answer that arrives after the page signed out is
// thrown away, and a 401/403 signs the page out.

export class ApiError extends Error {
  constructor(status, code, detail) { super(detail || code); this.status = status; this.code = code; }
}

/** Errors that need no message: the page has signed out (or is doing so). */
export const silent = (err) => err.code === "unauthorized" || err.code === "signed_out";

/** `api(path, {method, body})` for a page whose `state` holds the token and a session
 * counter bumped at sign-out; `signOut(message)` is called when the token is refused. */
export function apiClient(state, base, signOut) {
  return async function api(path, options = {}) {
    const session = state.session;
    const headers = { Authorization: "Bearer " + state.token };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(base + "api/" + path, {
      method: options.method || "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    // Signed out meanwhile: nothing of this answer may reach the page.
    if (session !== state.session) throw new ApiError(response.status, "signed_out");
    if (response.status === 401 || response.status === 403) {
      signOut("Uw token is niet (meer) geldig. Meld u opnieuw aan.");
      throw new ApiError(response.status, "unauthorized");
    }
    if (!response.ok) {
      throw new ApiError(response.status, data && data.error, data && data.detail);
    }
    return data;
  };
}
