// The agent's availability: "Afwezig" (a toggle in the header) keeps new chats away
// from the agent (no pick-up, no alert for new waiting chats, not counted as available)
// while the chats they hold stay theirs. The header shows the status and how many chats
// the agent holds of the most allowed. Kept on the server: it holds after a reload.
import { $, announce, on, page } from "./hooks.js";

let workspace = null;

function render() {
  const away = Boolean(workspace && workspace.away);
  page.state.away = away;
  $("away-toggle").hidden = !workspace;
  $("agent-status").hidden = !workspace;
  $("away-toggle").setAttribute("aria-pressed", String(away));
  $("agent-status").textContent = !workspace ? ""
    : (away ? "Afwezig" : "Beschikbaar") + " · " + workspace.held + " van "
      + workspace.max_chats + " gesprekken";
  document.body.classList.toggle("agent-away", away);
}

async function refresh() {
  try {
    workspace = await page.api("me/workspace");
    render();
    document.dispatchEvent(new CustomEvent("console:workspace", { detail: workspace }));
  } catch (err) { /* shown again at the next change */ }
}

async function toggle() {
  const away = !(workspace && workspace.away);
  $("away-toggle").disabled = true;
  try {
    workspace = await page.api("me/status", { method: "POST", body: { away } });
    render();
    announce($("tool-notice"), away
      ? "U staat op afwezig: u krijgt geen nieuwe gesprekken. Uw open gesprekken blijven van u."
      : "U bent weer beschikbaar voor nieuwe gesprekken.");
  } catch (err) {
    if (err.code !== "unauthorized" && err.code !== "signed_out") {
      $("tool-notice").textContent = page.explain(err);
    }
  } finally {
    $("away-toggle").disabled = false;
  }
}

on("signin", refresh);
// What the agent holds changes with every pick-up, close and hand-off.
on("event", (event) => { if (event.type === "thread" || event.type === "transferred"
  || event.type === "reoffered") refresh(); });
on("signout", () => { workspace = null; render(); });

$("away-toggle").addEventListener("click", toggle);
