// Closing a chat: the holder chooses an outcome, confirms in a dialog (the safe choice
// focused first: closing cannot be undone; or the optional summary, where the tenant
// registers one with the contact), and moves on to their next own chat or the list. `page` is console.js's: state, api, act, stopTyping, dropDraft, refreshAll,
// select, focusList and mine.
import { closeQuestion } from "./render.js";

const $ = (id) => document.getElementById(id);

export function wireClosing(page) {
  const { state, api, act, stopTyping, dropDraft, refreshAll, select, focusList, mine } = page;

  function askClose() {
    const outcome = $("close-outcome").value;
    const d = state.detail;
    if (!d || !state.selected) return;
    if (!outcome) {
      $("thread-error").textContent = "Kies eerst een uitkomst voor dit gesprek.";
      $("close-outcome").focus();
      return;
    }
    $("thread-error").textContent = "";
    state.closing = { threadId: state.selected, outcome };
    $("close-dialog-text").textContent = closeQuestion(d, outcome);
    // A summary only where it goes somewhere: the tenant registers it with the contact.
    const summary = ((state.me && state.me.summary_tenants) || []).includes(d.tenant);
    $("close-summary-field").hidden = !summary;
    $("close-summary").value = "";
    $("close-dialog").showModal();
    // Typing the summary is the next step where there is one; else the safe choice
    // first: closing cannot be undone.
    (summary ? $("close-summary") : $("close-cancel")).focus();
  }

  async function confirmClose() {
    const closing = state.closing;
    const summary = $("close-summary-field").hidden ? "" : $("close-summary").value.trim();
    state.closing = null;
    $("close-dialog").close();
    $("close-dialog-text").textContent = "";
    if (!closing || closing.threadId !== state.selected) return;
    const { threadId, outcome } = closing;
    await act($("close-thread"), async () => {
      stopTyping();
      await api("threads/" + encodeURIComponent(threadId) + "/close", {
        method: "POST", body: summary ? { outcome, summary } : { outcome },
      });
      dropDraft(threadId);
      await refreshAll();
      await focusAfterClose(threadId);
    });
  }

  /** After closing: on to the agent's next own chat, else back to the list. */
  async function focusAfterClose(closedId) {
    if (state.selected !== closedId) return;
    const next = [...state.threads.values()].find(
      (t) => t.thread_id !== closedId && t.status === "active" && mine(t));
    if (next) {
      await select(next.thread_id, true);
    } else {
      focusList(closedId);
    }
  }

  $("close-form").addEventListener("submit", (e) => { e.preventDefault(); askClose(); });
  $("close-confirm").addEventListener("click", () => confirmClose());
  $("close-cancel").addEventListener("click", () => $("close-dialog").close());
  $("close-dialog").addEventListener("close", () => {
    // Cancelled (button or Escape): back where the agent was.
    if (state.closing) { state.closing = null; $("close-thread").focus(); }
    $("close-dialog-text").textContent = "";
    $("close-summary").value = ""; // nothing of a chat stays in the page
  });
}
