// Idle sign-out: a page without the agent's keyboard, mouse or touch activity for the
// configured time (`idle_signout_seconds`) signs out and clears itself as "Afmelden"
// does, so a workstation left alone shows nothing of any conversation. A dialog warns
// `idle_warning_seconds` before, with a button to stay signed in.
import { $, on, page } from "./hooks.js";

let limits = null;
let lastActive = Date.now();
let timer = null;

function active(e) {
  // While the warning shows, a mouse passing over the page does not answer it: a click
  // or a key does (so the pointer on its way to the button does not close it).
  if ($("idle-dialog").open && e && (e.type === "pointermove" || e.type === "wheel")) return;
  lastActive = Date.now();
  if ($("idle-dialog").open) $("idle-dialog").close();
}

function check() {
  if (!limits || !limits.idle_signout_seconds) return;
  const idle = (Date.now() - lastActive) / 1000;
  const left = Math.ceil(limits.idle_signout_seconds - idle);
  if (left <= 0) {
    const minutes = Math.round(limits.idle_signout_seconds / 60);
    stop();
    page.signOut(minutes >= 1
      ? "U bent afgemeld omdat u " + minutes + " minuten niets in de console deed."
      : "U bent afgemeld omdat u een tijd niets in de console deed.");
    return;
  }
  if (left <= limits.idle_warning_seconds) {
    const text = "U wordt over " + left + " seconden afgemeld omdat u niets meer doet.";
    if (!$("idle-dialog").open) {
      $("idle-text").textContent = text;
      $("idle-dialog").showModal();
      $("idle-stay").focus();
    } else if (left % 10 === 0 || left <= 5) {
      // Not every second: a screen reader would read nothing else.
      $("idle-text").textContent = text;
    }
  }
}

function stop() {
  clearInterval(timer);
  timer = null;
  limits = null;
  if ($("idle-dialog").open) $("idle-dialog").close();
  $("idle-text").textContent = "";
}

document.addEventListener("console:workspace", (e) => {
  const first = !limits;
  limits = e.detail;
  if (first) lastActive = Date.now();
  if (!timer && limits.idle_signout_seconds) timer = setInterval(check, 1000);
});
on("signout", stop);
for (const type of ["keydown", "pointerdown", "pointermove", "wheel", "touchstart"]) {
  document.addEventListener(type, active, { passive: true, capture: true });
}
$("idle-stay").addEventListener("click", active);
