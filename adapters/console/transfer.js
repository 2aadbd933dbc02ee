// Transfer: the holder hands the open chat to a colleague who has room, back to the
// waiting list or to a team, with an optional note (an internal note, never for the
// citizen). The receiving agent's page alerts them; a chat offered back to the queue
// because the citizen waited too long tells its agent (the `reoffered` event).
import { $, announce, on, page } from "./hooks.js";

const mine = (d) => Boolean(d && d.agent && page.state.me && d.agent.id === page.state.me.agent.id);

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

async function openDialog() {
  const threadId = page.state.selected;
  if (!threadId) return;
  $("transfer-error").textContent = "";
  let targets = { agents: [], teams: [] };
  try {
    targets = await page.api("threads/" + encodeURIComponent(threadId) + "/transfer");
  } catch (err) {
    $("thread-error").textContent = page.explain(err);
    return;
  }
  const colleagues = document.createElement("optgroup");
  colleagues.label = "Collega's met ruimte";
  colleagues.append(...targets.agents.map((a) => option("agent:" + a.id, a.name)));
  const queues = document.createElement("optgroup");
  queues.label = "Wachtrij";
  queues.append(option("queue", "Terug naar de wachtrij"),
    ...targets.teams.map((t) => option("team:" + t.id, "Team " + t.name)));
  $("transfer-to").replaceChildren(...(targets.agents.length ? [colleagues] : []), queues);
  $("transfer-none").textContent = targets.agents.length ? ""
    : "Geen collega is nu beschikbaar; u kunt het gesprek wel in de wachtrij zetten.";
  $("transfer-dialog").showModal();
  $("transfer-to").focus();
}

async function transfer() {
  const threadId = page.state.selected;
  const to = $("transfer-to").value;
  if (!threadId || !to) return;
  $("transfer-confirm").disabled = true;
  try {
    await page.api("threads/" + encodeURIComponent(threadId) + "/transfer", {
      method: "POST", body: { to, note: $("transfer-note").value.trim() || undefined },
    });
    const whom = $("transfer-to").selectedOptions[0].textContent;
    $("transfer-note").value = "";
    $("transfer-dialog").close();
    announce($("tool-notice"), "Gesprek overgedragen: " + whom + ".");
    await page.refreshAll();
    // The dialog's button is gone with the chat: on from the chat's line in the list.
    ($("thread-item-" + threadId) || $("threads")).focus();
  } catch (err) {
    if (err.code !== "unauthorized" && err.code !== "signed_out") {
      $("transfer-error").textContent = page.explain(err);
    }
  } finally {
    $("transfer-confirm").disabled = false;
  }
}

on("detail", (d) => { $("transfer-open").hidden = !(d.status === "active" && mine(d)); });
on("event", (event) => {
  const me = page.state.me && page.state.me.agent.id;
  if (event.type === "transferred" && event.to_agent && event.to_agent === me) {
    announce($("tool-notice"), event.from + " heeft een gesprek aan u overgedragen.");
    page.alertAgent("Gesprek aan u overgedragen");
    page.refreshAll();
  } else if (event.type === "reoffered" && event.agent_id === me) {
    announce($("tool-notice"), "Een gesprek is teruggezet in de wachtrij: de inwoner wachtte "
      + "te lang op uw antwoord.");
    page.alertAgent("Gesprek teruggezet in de wachtrij");
    page.refreshAll();
  } else if ((event.type === "reoffered" || (event.type === "transferred" && !event.to_agent))
             && !page.state.away && event.agent_id !== me
             && !(event.from && page.state.me && event.from === page.state.me.agent.name)) {
    // A chat waits again: as much news for colleagues as a new one (not for the agent
    // who just put it back, nor for an agent who is away).
    announce($("tool-notice"), "Een gesprek wacht weer in de wachtrij.");
    page.alertAgent("Nieuw gesprek wacht");
  }
});
on("signout", () => {
  if ($("transfer-dialog").open) $("transfer-dialog").close();
  $("transfer-to").replaceChildren();
  $("transfer-note").value = "";
  $("transfer-error").textContent = "";
  $("transfer-none").textContent = "";
  $("tool-notice").textContent = "";
  $("transfer-open").hidden = true;
});

$("transfer-open").addEventListener("click", openDialog);
$("transfer-form").addEventListener("submit", (e) => { e.preventDefault(); transfer(); });
$("transfer-cancel").addEventListener("click", () => $("transfer-dialog").close());
$("transfer-dialog").addEventListener("close", () => {
  if (!$("transfer-open").hidden) $("transfer-open").focus();
});
