// What draws the agent's attention when the console is not being looked at: a short tone
// (WebAudio, no audio file), a desktop notification (with the agent's permission), and
// the counts in the tab title. The agent's settings for these and for the Enter key live
// in localStorage: they say how this agent likes to work, nothing about any citizen.
//
// A notification never carries a message, a name or a municipality: it is shown on a
// screen others may see, and goes through the operating system's notification centre.

const $ = (id) => document.getElementById(id);
const SETTINGS_KEY = "handover.console.settings";
const DEFAULTS = { enterSends: true, sound: true };
/** At most one tone in this many milliseconds: a burst of messages is one sound. */
const TONE_GAP_MS = 1500;

export const NEW_WAITING = "Nieuw gesprek wacht";
export const NEW_MESSAGE = "Nieuw bericht";

/** The agent's console settings (`enterSends`, `sound`). */
function loadSettings() {
  let stored = {};
  try { stored = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") || {}; } catch { stored = {}; }
  const out = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    if (typeof stored[key] === "boolean") out[key] = stored[key];
  }
  return out;
}

/** The agent's settings, read once; changed only by the settings panel (`wireSettings`). */
export const settings = loadSettings();

function saveSettings() {
  try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings)); } catch { /* private mode */ }
}

let audio = null;
let lastTone = 0;

/** Browsers start audio only after a user gesture: call this from one (a click, a key). */
export function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  try {
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch { audio = null; }
}

/** A short two-note chime, quiet enough for an office with many agents. */
function tone() {
  const now = Date.now();
  if (!audio || now - lastTone < TONE_GAP_MS) return;
  lastTone = now;
  try {
    const start = audio.currentTime;
    const gain = audio.createGain();
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
    gain.connect(audio.destination);
    for (const [frequency, at] of [[880, 0], [1175, 0.12]]) {
      const osc = audio.createOscillator();
      osc.type = "sine";
      osc.frequency.setValueAtTime(frequency, start + at);
      osc.connect(gain);
      osc.start(start + at);
      osc.stop(start + at + 0.22);
    }
  } catch { /* no sound is better than a broken page */ }
}

export const notificationsSupported = () => typeof window.Notification === "function";

/** "granted", "denied", "default" or "unsupported". */
export const notificationPermission = () =>
  notificationsSupported() ? Notification.permission : "unsupported";

/** Ask for desktop notifications; call it from the agent's click only. */
export async function askNotificationPermission() {
  if (!notificationsSupported()) return "unsupported";
  try { return await Notification.requestPermission(); } catch { return Notification.permission; }
}

/** Alert the agent: `title` is NEW_WAITING or NEW_MESSAGE, never anything of a citizen. */
export function alertAgent(title) {
  if (settings.sound) tone();
  if (notificationPermission() !== "granted") return;
  try {
    // One tag: a new alert replaces the previous one instead of piling up.
    const shown = new Notification(title, { tag: "handover-console", silent: true });
    shown.onclick = () => { window.focus(); shown.close(); };
  } catch { /* some browsers allow notifications from a service worker only */ }
}

const PERMISSION_TEXT = {
  granted: "Bureaubladmeldingen staan aan.",
  denied: "Bureaubladmeldingen zijn in de browser geblokkeerd.",
  default: "Bureaubladmeldingen staan uit.",
  unsupported: "Deze browser toont geen bureaubladmeldingen.",
};

/** The settings panel and the reply hint as `settings` say; the button that asks for
 * notifications only while the browser has not been asked (and someone is signed in). */
export function renderSettingsPanel(signedIn) {
  $("setting-enter-sends").checked = settings.enterSends;
  $("setting-sound").checked = settings.sound;
  $("reply-hint").textContent = settings.enterSends
    ? "Enter verstuurt, Shift+Enter begint een nieuwe regel."
    : "Ctrl+Enter verstuurt, Enter begint een nieuwe regel.";
  const permission = notificationPermission();
  $("notify-state").textContent = PERMISSION_TEXT[permission] || "";
  $("notify-enable").hidden = permission !== "default" || !signedIn;
}

/** The settings panel's controls; `signedIn()` says whether an agent is signed in. */
export function wireSettings(signedIn) {
  $("settings-toggle").addEventListener("click", () => {
    const open = $("settings").hidden;
    $("settings").hidden = !open;
    $("settings-toggle").setAttribute("aria-expanded", String(open));
  });
  for (const [id, key] of [["setting-enter-sends", "enterSends"], ["setting-sound", "sound"]]) {
    $(id).addEventListener("change", (e) => {
      settings[key] = e.target.checked;
      saveSettings();
      renderSettingsPanel(signedIn());
    });
  }
  $("notify-enable").addEventListener("click", async () => {
    await askNotificationPermission(); // on the agent's click, as browsers require
    renderSettingsPanel(signedIn());
  });
  // Browsers play sound only after a user gesture: any click or key of the agent's.
  for (const type of ["pointerdown", "keydown"]) {
    document.addEventListener(type, () => { if (settings.sound) unlockAudio(); }, { capture: true });
  }
}

/** The tab title: what waits and what is unread, so an agent in another tab sees both. */
export function pageTitle(waiting, unread) {
  const parts = [];
  if (waiting) parts.push(waiting + " wachtend");
  if (unread) parts.push(unread + " nieuw");
  return (parts.length ? "(" + parts.join(", ") + ") " : "") + "Agentconsole";
}
