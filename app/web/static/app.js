// The page controller: wires the session, passkeys, asking, the live run, history and uploads.

import { Api, ApiError } from "./api.js";
import { renderMarkdown } from "./markdown.js";
import {
  conditionalMediationAvailable,
  describePasskeyError,
  registerPasskey,
  signInWithPasskey,
  webauthnSupported,
} from "./passkeys.js";
import { copyText, downloadMarkdown, renderReport } from "./report.js";
import { RunStore } from "./run-store.js";
import { RunView } from "./run-view.js";
import { readRunEvents } from "./sse.js";
import { TokenPanel } from "./tokens.js";

const MAX_RESUMES = 3;

const $ = (id) => document.getElementById(id);

const state = {
  continuing: null, // {id, title} of the conversation the next question continues
  openConversation: null, // {id, title} shown in the conversation card
  datasetId: null,
  run: null, // {controller, cancelRequested}
  report: "",
  conditional: null, // AbortController of a pending passkey-autofill request
};

const api = new Api({
  onSessionChange: (user) =>
    user ? showApp(user) : showAuth("Your session has ended. Sign in again to continue."),
});

const tokenPanel = new TokenPanel(api, {
  form: $("token-form"),
  name: $("token-name"),
  days: $("token-days"),
  list: $("token-list"),
  empty: $("tokens-empty"),
  status: $("token-status"),
  created: $("token-created"),
  secret: $("token-secret"),
  copy: $("token-copy"),
  example: $("token-example"),
});

const runStore = new RunStore();
const runView = new RunView({
  progress: $("progress"),
  progressLabel: $("progress-label"),
  status: $("run-status"),
  plan: $("plan"),
  live: $("live-output"),
  timeline: $("timeline"),
});

// ---- notices --------------------------------------------------------------------------------

function showNotice(text, kind = "error") {
  const notice = $("notice");
  notice.textContent = text;
  notice.className = `notice ${kind}`;
  notice.hidden = false;
}

function clearNotice() {
  $("notice").hidden = true;
  $("notice").textContent = "";
}

function describe(error) {
  if (error instanceof ApiError) return error.detail;
  if (error?.name === "AbortError") return "The request was interrupted.";
  return `Could not reach the service (${error?.message ?? error}).`;
}

// ---- views ----------------------------------------------------------------------------------

function showAuth(message) {
  $("app-view").hidden = true;
  $("session").hidden = true;
  $("auth-view").hidden = false;
  stopStreaming();
  resetWorkspace(); // nothing of the previous session stays on screen for the next one
  if (message) authStatus(message);
  document.body.dataset.view = "auth";
}

function showApp(user) {
  abortConditional();
  $("auth-view").hidden = true;
  authStatus("");
  $("session-email").textContent = user.email ?? "";
  $("session").hidden = false;
  $("app-view").hidden = false;
  document.body.dataset.view = "app";
  $("question").focus(); // the sign-in button that had focus is gone
  loadHistory();
  tokenPanel.load();
}

// ---- passkeys -------------------------------------------------------------------------------

function authStatus(text, kind = "info") {
  $("auth-status").textContent = text;
  $("auth-status").dataset.kind = kind;
}

function setAuthBusy(busy) {
  $("sign-in").disabled = busy;
  $("sign-up").disabled = busy;
}

function abortConditional() {
  if (state.conditional) {
    state.conditional.abort();
    state.conditional = null;
  }
}

// Passkey autofill: a conditional request waits until the user picks a passkey from the email
// field's suggestions. Started when the field is first focused, re-armed after it ends.
async function startConditional() {
  if (state.conditional || api.signedIn || !(await conditionalMediationAvailable())) return;
  const controller = new AbortController();
  state.conditional = controller;
  try {
    await signInWithPasskey(api, null, { mediation: "conditional", signal: controller.signal });
  } catch (error) {
    if (!controller.signal.aborted && error?.name !== "AbortError") {
      authStatus(describePasskeyError(error), "error");
    }
  } finally {
    if (state.conditional === controller) state.conditional = null;
  }
}

async function onSignIn(event) {
  event.preventDefault();
  abortConditional();
  clearNotice();
  const email = $("email").value.trim();
  setAuthBusy(true);
  authStatus("Waiting for your passkey…");
  try {
    await signInWithPasskey(api, email || null);
  } catch (error) {
    authStatus(describePasskeyError(error), "error");
  } finally {
    setAuthBusy(false);
  }
}

async function onSignUp() {
  abortConditional();
  clearNotice();
  const input = $("email");
  const email = input.value.trim();
  if (!email || !/^[^\s@]+@[^\s@]+$/.test(email)) {
    authStatus("Enter your email address to create an account.", "error");
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  input.removeAttribute("aria-invalid");
  setAuthBusy(true);
  authStatus("Creating your passkey…");
  try {
    await registerPasskey(api, email);
    authStatus(`Passkey created for ${email}. Now sign in with it.`, "success");
    $("sign-in").focus();
  } catch (error) {
    authStatus(describePasskeyError(error), "error");
  } finally {
    setAuthBusy(false);
  }
}

async function onSignOut() {
  stopStreaming();
  runStore.clear();
  try {
    await api.logout();
  } catch {
    // the local session is cleared either way
  }
  showAuth("You are signed out.");
}

function resetWorkspace() {
  runStore.clear();
  clearNotice();
  setContinuing(null);
  closeConversation();
  detachDataset();
  $("run-view").hidden = true;
  $("report-view").hidden = true;
  $("history-list").replaceChildren();
  $("question").value = "";
  tokenPanel.reset();
}

// ---- history --------------------------------------------------------------------------------

function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

async function loadHistory() {
  let conversations;
  try {
    ({ conversations } = await api.json("GET", "/conversations"));
  } catch (error) {
    if (api.signedIn) showNotice(`History is unavailable: ${describe(error)}`);
    return;
  }
  const list = $("history-list");
  $("history-empty").hidden = conversations.length > 0;
  list.replaceChildren(
    ...conversations.map((conversation) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "history-item";
      button.dataset.id = String(conversation.id); // ids are JSON integers; dataset holds text
      const title = document.createElement("span");
      title.className = "history-title";
      title.textContent = conversation.title || "Untitled";
      const time = document.createElement("time");
      time.dateTime = conversation.updated_at ?? "";
      time.textContent = formatDate(conversation.updated_at);
      button.append(title, time);
      if (state.openConversation?.id === conversation.id) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => openConversation(conversation.id));
      li.append(button);
      return li;
    }),
  );
}

async function openConversation(id) {
  clearNotice();
  let payload;
  try {
    payload = await api.json("GET", `/conversations/${encodeURIComponent(id)}`);
  } catch (error) {
    showNotice(describe(error));
    loadHistory();
    return;
  }
  const { conversation, messages } = payload;
  state.openConversation = { id: conversation.id, title: conversation.title || "Untitled" };
  $("conversation-title").textContent = state.openConversation.title;
  $("transcript").replaceChildren(
    ...messages.map((message) => {
      const li = document.createElement("li");
      li.className = `message ${message.role}`;
      const who = document.createElement("p");
      who.className = "message-role";
      who.textContent = message.role === "user" ? "You" : "Assistant";
      const body = document.createElement("div");
      body.className = "message-body markdown";
      if (message.role === "assistant") body.append(renderMarkdown(message.content ?? ""));
      else body.textContent = message.content ?? "";
      li.append(who, body);
      return li;
    }),
  );
  $("conversation-view").hidden = false;
  for (const button of document.querySelectorAll(".history-item")) {
    if (button.dataset.id === String(id)) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  $("conversation-title").tabIndex = -1;
  $("conversation-title").focus();
}

function closeConversation() {
  state.openConversation = null;
  $("conversation-view").hidden = true;
  $("transcript").replaceChildren();
  for (const button of document.querySelectorAll(".history-item[aria-current]")) {
    button.removeAttribute("aria-current");
  }
}

function setContinuing(conversation) {
  state.continuing = conversation;
  $("continuing").hidden = !conversation;
  $("continuing-title").textContent = conversation?.title ?? "";
  $("ask-submit").textContent = conversation ? "Ask follow-up" : "Ask";
}

async function deleteOpenConversation() {
  const conversation = state.openConversation;
  if (!conversation) return;
  if (!window.confirm(`Delete the conversation “${conversation.title}”? This cannot be undone.`)) {
    return;
  }
  try {
    await api.json("DELETE", `/conversations/${encodeURIComponent(conversation.id)}`);
  } catch (error) {
    showNotice(describe(error));
    return;
  }
  if (state.continuing?.id === conversation.id) setContinuing(null);
  closeConversation();
  showNotice("Conversation deleted.", "info");
  await loadHistory();
}

// ---- datasets -------------------------------------------------------------------------------

function detachDataset() {
  state.datasetId = null;
  $("dataset-file").value = "";
  $("dataset-status").textContent = "";
  $("dataset-remove").hidden = true;
}

async function onDatasetChosen() {
  const file = $("dataset-file").files?.[0];
  if (!file) return;
  clearNotice();
  $("dataset-status").textContent = `Uploading ${file.name}…`;
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const dataset = await api.json("POST", "/datasets", { body: form });
    state.datasetId = dataset.dataset_id;
    const warnings = dataset.warnings?.length ? ` — ${dataset.warnings.length} warning(s)` : "";
    $("dataset-status").textContent =
      `Attached ${file.name}: ${dataset.rows} rows, ${dataset.kind ?? "table"}${warnings}`;
    $("dataset-remove").hidden = false;
  } catch (error) {
    detachDataset();
    showNotice(`Upload failed: ${describe(error)}`);
  }
}

// ---- runs -----------------------------------------------------------------------------------

function setRunning(running) {
  $("ask-submit").disabled = running;
  $("stop").hidden = !running;
  $("stop").disabled = false;
  document.body.dataset.running = running ? "true" : "false";
}

function stopStreaming() {
  if (state.run) {
    state.run.controller.abort();
    state.run = null;
  }
  setRunning(false);
}

function handleEvent(event) {
  if (!runView.apply(event)) return; // a duplicate (already shown)
  runStore.add(event);
  const data = event.data ?? {};
  if (event.event_type === "started") {
    runStore.update({
      runId: data.run_id ?? event.run_id,
      conversationId: data.conversation_id ?? null,
    });
    if (state.run?.cancelRequested) cancelRun();
  } else if (event.event_type === "completed") {
    state.report = renderReport(
      { body: $("report-body"), charts: $("charts"), usage: $("usage"), sources: $("sources") },
      data,
    );
    $("report-view").hidden = false;
    $("timeline-box").open = false; // the report matters now; the timeline stays one click away
    $("report-title").focus();
  } else if (event.event_type === "error") {
    if (data.code === "cancelled") showNotice("The run was stopped.", "info");
    else showNotice(`The run failed: ${data.error ?? data.code}`);
  }
}

async function consume(response) {
  for await (const event of readRunEvents(response)) {
    handleEvent(event);
    if (runView.terminal) return;
  }
}

// Stream a run until its terminal event; if the connection drops first, resume from the last
// seq with Last-Event-ID (the service replays exactly the missing events).
async function followRun(openStream) {
  const controller = new AbortController();
  state.run = { controller, cancelRequested: false };
  setRunning(true);
  $("run-view").hidden = false;
  try {
    let response = await openStream(controller.signal);
    for (let attempt = 0; ; attempt += 1) {
      try {
        await consume(response);
      } catch (error) {
        if (controller.signal.aborted) throw error; // a dropped connection is resumed below
      }
      const over = runView.terminal || controller.signal.aborted || !runView.runId;
      if (over || attempt >= MAX_RESUMES) break;
      await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
      response = await resumeStream(runView.runId, controller.signal);
    }
    if (!runView.terminal && !controller.signal.aborted) {
      showNotice("The connection to the run was lost. Reload the page to resume it.");
      return;
    }
  } catch (error) {
    if (!controller.signal.aborted) showNotice(describe(error));
    if (error instanceof ApiError && error.status === 404) runStore.clear();
    return;
  } finally {
    if (state.run?.controller === controller) {
      state.run = null;
      setRunning(false);
    }
  }
  if (controller.signal.aborted) return; // stopped by sign-out: leave the page state alone
  runStore.clear();
  if (runView.terminal?.event_type === "completed") $("question").value = "";
  const conversationId = runView.conversationId;
  await loadHistory();
  if (conversationId) {
    const item = `.history-item[data-id="${CSS.escape(String(conversationId))}"] .history-title`;
    const title = document.querySelector(item);
    setContinuing({ id: conversationId, title: title?.textContent ?? "this conversation" });
    if (state.openConversation?.id === conversationId) openConversation(conversationId);
  }
}

function resumeStream(runId, signal) {
  return api.stream("GET", `/runs/${encodeURIComponent(runId)}/events`, {
    headers: { "Last-Event-ID": String(runView.lastSeq) },
    signal,
  });
}

async function onAsk(event) {
  event.preventDefault();
  if (state.run) return;
  clearNotice();
  const question = $("question").value.trim();
  if (!question) {
    showNotice("Type a question first.");
    $("question").focus();
    return;
  }
  const body = { question };
  if (state.datasetId) body.dataset_id = state.datasetId;
  const path = state.continuing
    ? `/conversations/${encodeURIComponent(state.continuing.id)}/messages`
    : "/ask-stream";
  runView.reset();
  $("timeline-box").open = true;
  $("report-view").hidden = true;
  state.report = "";
  runStore.begin(question);
  await followRun((signal) => api.stream("POST", path, { body, signal }));
}

async function cancelRun() {
  const runId = runView.runId;
  if (!state.run) return;
  if (!runId) {
    state.run.cancelRequested = true; // sent as soon as the started event names the run
    return;
  }
  $("stop").disabled = true;
  try {
    await api.json("POST", `/runs/${encodeURIComponent(runId)}/cancel`);
  } catch (error) {
    $("stop").disabled = false;
    showNotice(`Could not stop the run: ${describe(error)}`);
  }
}

/** After a reload: show what was already received, then continue after the last seq. */
async function resumeStoredRun() {
  const stored = runStore.load();
  if (!stored?.runId) {
    runStore.clear();
    return;
  }
  runView.reset();
  $("timeline-box").open = true;
  $("run-view").hidden = false;
  $("question").value = stored.question ?? "";
  runStore.begin(stored.question);
  runStore.update({ runId: stored.runId, conversationId: stored.conversationId });
  for (const event of stored.events) handleEvent(event); // re-recorded as they are shown
  if (runView.terminal) {
    runStore.clear();
    return;
  }
  runView.runId = stored.runId;
  await followRun((signal) => resumeStream(stored.runId, signal));
}

// ---- start ----------------------------------------------------------------------------------

function wire() {
  $("auth-form").addEventListener("submit", onSignIn);
  $("sign-up").addEventListener("click", onSignUp);
  $("email").addEventListener("focus", () => startConditional());
  $("sign-out").addEventListener("click", onSignOut);
  $("ask-form").addEventListener("submit", onAsk);
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("ask-form").requestSubmit();
  });
  $("stop").addEventListener("click", cancelRun);
  for (const chip of document.querySelectorAll("[data-example]")) {
    chip.addEventListener("click", () => {
      $("question").value = chip.textContent.trim();
      $("question").focus();
    });
  }
  $("dataset-file").addEventListener("change", onDatasetChosen);
  $("dataset-remove").addEventListener("click", detachDataset);
  $("new-conversation").addEventListener("click", () => {
    setContinuing(null);
    closeConversation();
    $("question").focus();
  });
  $("stop-continuing").addEventListener("click", () => setContinuing(null));
  $("continue-conversation").addEventListener("click", () => {
    if (!state.openConversation) return;
    setContinuing(state.openConversation);
    $("question").focus();
  });
  $("delete-conversation").addEventListener("click", deleteOpenConversation);
  $("close-conversation").addEventListener("click", closeConversation);
  $("copy-report").addEventListener("click", async () => {
    const ok = await copyText(state.report);
    showNotice(ok ? "Report copied as Markdown." : "Copy failed: select the text instead.", "info");
  });
  $("download-report").addEventListener("click", () => {
    downloadMarkdown(state.report, "sustainable-city-report.md");
  });
}

async function main() {
  wire();
  if (!webauthnSupported()) {
    authStatus(
      "This browser cannot use passkeys here. Use a current browser, over HTTPS or http://localhost.",
      "error",
    );
    setAuthBusy(true);
  }
  const user = await api.restore();
  if (user) {
    await resumeStoredRun();
  } else {
    runStore.clear();
    showAuth();
  }
  document.body.dataset.ready = "true";
}

main();
