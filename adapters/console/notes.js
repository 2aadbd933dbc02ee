// Internal notes: an agent writes a note on the open thread for colleagues. It shows in
// the thread (party "internal") for every agent, never for the citizen: the server keeps
// it out of the conversation's transcript.
import { $, announce, on, page } from "./hooks.js";

// A retry of the same note after a failure keeps its id: the server stores it once.
let pending = null;

function newId() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
}

function openDialog() {
  $("note-error").textContent = "";
  $("note-dialog").showModal();
  $("note-text").focus();
}

async function save() {
  const threadId = page.state.selected;
  const text = $("note-text").value.trim();
  if (!threadId) return;
  if (!text) { $("note-error").textContent = "Schrijf eerst een notitie."; $("note-text").focus(); return; }
  if (!pending || pending.threadId !== threadId || pending.text !== text) {
    pending = { threadId, text, id: newId() };
  }
  const note = pending;
  $("note-save").disabled = true;
  try {
    await page.api("threads/" + encodeURIComponent(threadId) + "/notes", {
      method: "POST", body: { note_id: note.id, text },
    });
    pending = null;
    $("note-text").value = "";
    $("note-dialog").close();
    announce($("note-status"), "Interne notitie opgeslagen.");
    if (page.state.selected === threadId) await page.refreshDetail();
  } catch (err) {
    if (err.code !== "unauthorized" && err.code !== "signed_out") {
      $("note-error").textContent = page.explain(err);
    }
  } finally {
    $("note-save").disabled = false;
  }
}

on("detail", () => { $("note-open").hidden = false; });
on("signout", () => {
  pending = null;
  if ($("note-dialog").open) $("note-dialog").close();
  $("note-text").value = "";
  $("note-error").textContent = "";
  $("note-status").textContent = "";
  $("note-open").hidden = true;
});

$("note-open").addEventListener("click", openDialog);
$("note-form").addEventListener("submit", (e) => { e.preventDefault(); save(); });
$("note-cancel").addEventListener("click", () => $("note-dialog").close());
$("note-dialog").addEventListener("close", () => {
  // The note stays written while the thread is open; focus goes back where it was.
  $("note-open").focus();
});
