// Canned responses: "/" and a shortcut in the reply box (Enter inserts the answer, it is
// not sent), or the "Standaardantwoorden" list (button, or Alt+S in the reply box) to
// filter and pick from with the keyboard. The answers come from the server with their
// placeholders filled in for this thread and agent; they are fetched per thread.
import { $, announce, on, page } from "./hooks.js";

// thread id -> its answers, fetched once per open of the page.
let answers = new Map();
let current = [];
let threadShown = null;
// Where the reply box's cursor was when the list opened (the dialog takes the focus).
let caretAt = null;

/** The "/shortcut" the reply box ends with (after a space or at the start), or null. */
function typedShortcut() {
  const box = $("reply-text");
  const before = box.value.slice(0, box.selectionEnd);
  const found = /(^|\s)\/([a-z0-9_-]+)$/.exec(before);
  if (!found) return null;
  const answer = current.find((a) => a.shortcut === found[2]);
  return answer ? { answer, start: before.length - found[2].length - 1 } : null;
}

function showHint() {
  const typed = typedShortcut();
  const text = typed ? "Enter voegt het standaardantwoord “" + typed.answer.title + "” in." : "";
  if ($("canned-hint").textContent !== text) $("canned-hint").textContent = text;
}

/** Put the answer's text into the reply box, in place of a typed "/shortcut" (or at the
 * cursor), and tell console.js (its draft and typing follow the box's input events). */
function insert(answer, start, range) {
  const box = $("reply-text");
  const end = range ? range[1] : box.selectionEnd;
  const from = start ?? (range ? range[0] : box.selectionStart);
  // After a word (not after a space or a new line) the answer starts with a space.
  const text = (from > 0 && !/\s/.test(box.value[from - 1]) ? " " : "") + answer.text;
  box.value = box.value.slice(0, from) + text + box.value.slice(end);
  const caret = from + text.length;
  box.focus();
  box.setSelectionRange(caret, caret);
  box.dispatchEvent(new Event("input", { bubbles: true }));
  $("canned-hint").textContent = "";
  announce($("canned-status"), "Standaardantwoord “" + answer.title + "” ingevoegd.");
}

async function load(threadId) {
  if (answers.has(threadId)) return answers.get(threadId);
  const session = page.state.session;
  const data = await page.api("threads/" + encodeURIComponent(threadId) + "/canned");
  if (session === page.state.session) answers.set(threadId, data.canned);
  return data.canned;
}

function renderList() {
  const filter = $("canned-filter").value.trim().toLowerCase().replace(/^\//, "");
  const shown = current.filter((a) => !filter || a.shortcut.includes(filter)
    || a.title.toLowerCase().includes(filter) || a.text.toLowerCase().includes(filter));
  $("canned-list").replaceChildren(...shown.map((a) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "canned-item";
    const title = document.createElement("span");
    title.className = "line";
    title.textContent = a.title + " (/" + a.shortcut + ")";
    const text = document.createElement("span");
    text.className = "line preview";
    text.textContent = a.text;
    button.append(title, text);
    button.addEventListener("click", () => {
      const range = caretAt;
      $("canned-dialog").close();
      insert(a, undefined, range);
    });
    li.append(button);
    return li;
  }));
  $("canned-count").textContent = shown.length === 1 ? "1 antwoord" : shown.length + " antwoorden";
}

function openPicker() {
  if (!current.length) {
    announce($("canned-status"), "Er zijn geen standaardantwoorden voor dit gesprek.");
    return;
  }
  const box = $("reply-text");
  caretAt = [box.selectionStart, box.selectionEnd];
  $("canned-filter").value = "";
  renderList();
  $("canned-dialog").showModal();
  $("canned-filter").focus();
}

function clear() {
  answers = new Map();
  current = [];
  threadShown = null;
  if ($("canned-dialog").open) $("canned-dialog").close();
  $("canned-list").replaceChildren();
  $("canned-filter").value = "";
  $("canned-hint").textContent = "";
  $("canned-status").textContent = "";
  $("canned-open").hidden = true;
}

on("detail", async (d) => {
  const holder = d.status === "active" && d.agent && page.state.me
    && d.agent.id === page.state.me.agent.id;
  if (!holder) { $("canned-open").hidden = true; return; }
  if (threadShown !== d.thread_id) { threadShown = d.thread_id; current = []; }
  try {
    const list = await load(d.thread_id);
    if (page.state.selected !== d.thread_id) return;
    current = list;
    $("canned-open").hidden = list.length === 0;
  } catch (err) { /* without the list the agent types the answer */ }
});
on("signout", clear);

// Capture phase on the form: before console.js's own Enter handler sends the reply.
$("reply-form").addEventListener("keydown", (e) => {
  if (e.target !== $("reply-text")) return;
  if (e.altKey && (e.key === "s" || e.key === "S")) {
    e.preventDefault();
    openPicker();
    return;
  }
  if (e.key !== "Enter" || e.isComposing || e.shiftKey) return;
  const typed = typedShortcut();
  if (!typed) return;
  e.preventDefault();
  e.stopPropagation();
  insert(typed.answer, typed.start);
}, true);
$("reply-text").addEventListener("input", showHint);
$("reply-text").addEventListener("keyup", showHint);
$("canned-open").addEventListener("click", openPicker);
$("canned-filter").addEventListener("input", renderList);
$("canned-filter").addEventListener("keydown", (e) => {
  // Down from the filter to the first answer; Enter takes the only one left.
  const items = [...document.querySelectorAll("#canned-list .canned-item")];
  if (e.key === "ArrowDown" && items.length) { e.preventDefault(); items[0].focus(); }
  if (e.key === "Enter") { e.preventDefault(); if (items.length === 1) items[0].click(); }
});
$("canned-list").addEventListener("keydown", (e) => {
  const items = [...document.querySelectorAll("#canned-list .canned-item")];
  const at = items.indexOf(document.activeElement);
  if (at < 0) return;
  if (e.key === "ArrowDown" && at + 1 < items.length) { e.preventDefault(); items[at + 1].focus(); }
  if (e.key === "ArrowUp") { e.preventDefault(); (at > 0 ? items[at - 1] : $("canned-filter")).focus(); }
});
$("canned-close").addEventListener("click", () => $("canned-dialog").close());
$("canned-dialog").addEventListener("close", () => {
  if (!$("reply-form").hidden) $("reply-text").focus();
});
