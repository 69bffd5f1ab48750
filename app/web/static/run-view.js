// The live view of one run: progress bar, the planner's steps, and the event timeline.
//
// Events are applied in seq order and a seq already seen is ignored, so replaying a stream after
// a reconnect (or receiving an event twice) never duplicates anything on screen.

// Built-in step kinds; a kind an embedder added (any other name) is shown as it is named.
const STEP_LABELS = new Map([
  ["carbon", "Carbon"],
  ["analysis", "Analysis"],
  ["report", "Report"],
]);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatTime(timestamp) {
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString();
}

export function formatDuration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function prettyJSON(value) {
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export class RunView {
  /** @param {Record<string, HTMLElement>} els progress, progressLabel, status, plan, live, timeline */
  constructor(els) {
    this.els = els;
    this.reset();
  }

  reset() {
    this.lastSeq = 0;
    this.progress = 0;
    this.runId = null;
    this.conversationId = null;
    this.plan = [];
    this.toolEntries = new Map();
    this.thinkingSeen = new Set();
    this.liveText = "";
    this.terminal = null;
    this.els.timeline.replaceChildren();
    this.els.plan.replaceChildren(el("li", "muted", "Planning…"));
    this.els.live.replaceChildren();
    this.els.live.hidden = true;
    this.els.status.textContent = "";
    this.setProgress(0);
  }

  setProgress(value) {
    const progress = Math.max(this.progress, Math.min(100, Math.round(Number(value) || 0)));
    this.progress = progress;
    this.els.progress.value = progress;
    this.els.progress.setAttribute("aria-valuetext", `${progress} percent`);
    this.els.progressLabel.textContent = `${progress}%`;
  }

  /**
   * Apply one event. Returns false for a duplicate or out-of-date event (seq already shown).
   * @param {object} event the inner event of the {"event": {...}} envelope
   */
  apply(event) {
    if (typeof event.seq !== "number" || event.seq <= this.lastSeq) return false;
    this.lastSeq = event.seq;
    const data = event.data ?? {};
    this.runId = event.run_id ?? this.runId;
    if (typeof data.progress === "number") this.setProgress(data.progress);
    if (event.message) this.els.status.textContent = event.message;

    switch (event.event_type) {
      case "started":
        this.conversationId = data.conversation_id ?? null;
        this.addEntry(event, "");
        break;
      case "agent_thinking":
        this.onThinking(event, data);
        break;
      case "tool_execution":
        this.onTool(event, data);
        break;
      case "agent_response":
        this.onResponse(event, data);
        break;
      case "completed":
        if (Array.isArray(data.plan) && data.plan.length && !this.plan.length) this.setPlan(data.plan);
        this.plan.forEach((step) => this.markStep(step, "done"));
        this.setProgress(100);
        this.addEntry(event, formatDuration(data.duration_ms));
        this.terminal = event;
        this.hideLive();
        break;
      case "error":
        this.plan.filter((s) => s.state === "active").forEach((s) => this.markStep(s, "failed"));
        this.addEntry(event, `${data.code ?? "error"}: ${data.error ?? ""}`, "error");
        this.terminal = event;
        this.hideLive();
        break;
      default:
        this.addEntry(event, "");
    }
    return true;
  }

  onThinking(event, data) {
    if (Array.isArray(data.plan) && data.plan.length) this.setPlan(data.plan);
    const step = this.findStep(data);
    if (step && step.state === "pending") this.markStep(step, "active");
    const key = `${data.step_index ?? ""}:${data.step ?? data.state ?? ""}`;
    if (typeof data.partial_text === "string" && data.partial_text) {
      this.showLive(data.partial_text);
      if (this.thinkingSeen.has(key)) return; // streaming text: one timeline entry per step
    }
    this.thinkingSeen.add(key);
    this.addEntry(event, data.state ? `state: ${data.state}` : "");
  }

  onResponse(event, data) {
    const step = this.findStep(data);
    if (step) this.markStep(step, "done");
    this.hideLive();
    const usage = data.usage ?? {};
    const tokens = (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0);
    const parts = [formatDuration(data.duration_ms)];
    if (tokens) parts.push(`${tokens} tokens`);
    else if (usage.cpu_ms) parts.push(`${Number(usage.cpu_ms).toFixed(1)} ms CPU`);
    const entry = this.addEntry(event, parts.filter(Boolean).join(" · "));
    if (typeof data.output === "string" && data.output.trim()) {
      const details = el("details", "entry-details");
      details.append(el("summary", "", "Step output"), el("pre", "", data.output));
      entry.append(details);
    }
  }

  onTool(event, data) {
    const key = data.call_id || `${data.tool}:${event.seq}`;
    let entry = this.toolEntries.get(key);
    if (!entry) {
      entry = this.addEntry(event, "", "tool");
      const details = el("details", "entry-details");
      const summary = el("summary");
      const args = el("pre", "tool-args");
      const result = el("p", "tool-result");
      details.append(summary, el("h4", "", "Arguments"), args, result);
      entry.append(details);
      entry.parts = { summary, args, result };
      this.toolEntries.set(key, entry);
    } else {
      entry.querySelector(".entry-message").textContent = event.message ?? "";
      entry.querySelector("time").textContent = formatTime(event.timestamp);
    }
    const status = data.status ?? "started";
    entry.dataset.status = status;
    const duration = formatDuration(data.duration_ms);
    entry.parts.summary.textContent =
      `${data.tool ?? "tool"} — ${status}${duration ? ` (${duration})` : ""}`;
    entry.parts.args.textContent = prettyJSON(data.arguments ?? {});
    const outcome = data.error ?? data.result_summary ?? "";
    entry.parts.result.textContent = outcome ? `${data.error ? "Error" : "Result"}: ${outcome}` : "";
  }

  setPlan(plan) {
    const previous = new Map(this.plan.map((s) => [s.index, s.state]));
    this.plan = plan.map((step, index) => ({
      index,
      kind: step.kind,
      task: step.task,
      state: previous.get(index) ?? "pending",
      node: null,
    }));
    this.els.plan.replaceChildren(
      ...this.plan.map((step) => {
        const li = el("li", "plan-step");
        const mark = el("span", "plan-mark");
        mark.setAttribute("aria-hidden", "true");
        const label = el("span", "plan-kind", STEP_LABELS.get(step.kind) ?? String(step.kind));
        const task = el("span", "plan-task", step.task);
        const state = el("span", "visually-hidden plan-state");
        li.append(mark, label, task, state);
        step.node = li;
        this.paintStep(step);
        return li;
      }),
    );
  }

  findStep(data) {
    if (typeof data.step_index === "number" && this.plan[data.step_index]) {
      return this.plan[data.step_index];
    }
    if (!data.step) return null;
    return (
      this.plan.find((s) => s.kind === data.step && s.state === "active") ??
      this.plan.find((s) => s.kind === data.step && s.state === "pending") ??
      null
    );
  }

  markStep(step, state) {
    if (step.state === "done") return;
    step.state = state;
    this.paintStep(step);
  }

  paintStep(step) {
    if (!step.node) return;
    step.node.dataset.state = step.state;
    const labels = { pending: "not started", active: "in progress", done: "done", failed: "failed" };
    step.node.querySelector(".plan-mark").textContent =
      { pending: "○", active: "◔", done: "✓", failed: "✕" }[step.state] ?? "○";
    step.node.querySelector(".plan-state").textContent = ` (${labels[step.state] ?? step.state})`;
  }

  showLive(text) {
    // partial_text may be cumulative or a delta: keep whichever reading is consistent.
    this.liveText = text.startsWith(this.liveText) ? text : this.liveText + text;
    this.els.live.textContent = this.liveText;
    this.els.live.hidden = false;
  }

  hideLive() {
    this.liveText = "";
    this.els.live.textContent = "";
    this.els.live.hidden = true;
  }

  addEntry(event, detail, variant = "") {
    const li = el("li", `entry entry-${event.event_type}${variant ? ` ${variant}` : ""}`);
    li.dataset.seq = String(event.seq);
    li.dataset.type = event.event_type;
    const head = el("div", "entry-head");
    const time = el("time", "", formatTime(event.timestamp));
    time.dateTime = event.timestamp ?? "";
    head.append(
      time,
      el("span", "entry-agent", event.agent_name ?? ""),
      el("span", "entry-type", event.event_type.replace("_", " ")),
    );
    li.append(head, el("p", "entry-message", event.message ?? ""));
    if (detail) li.append(el("p", "entry-detail", detail));
    this.els.timeline.append(li);
    return li;
  }
}
