// The live run of this tab, kept in sessionStorage so a reload can resume it.
//
// Stored: the run id, conversation id, question and the events already shown. After a reload
// the page re-renders those events and asks the service only for what came after the last seq
// (Last-Event-ID). Writes are batched (at most one per 250 ms, flushed when the page is hidden
// or unloaded); if the newest events were not written yet, the service simply replays them and
// the run view drops any seq it has already shown.

const KEY = "sca.active_run";
const WRITE_DELAY_MS = 250;

export class RunStore {
  constructor(storage = window.sessionStorage) {
    this.storage = storage;
    this.current = null;
    this.timer = null;
    window.addEventListener("pagehide", () => this.flush());
  }

  /** Start recording a new run (its id arrives with the first event). */
  begin(question) {
    this.current = { runId: null, conversationId: null, question, events: [] };
    this.flush();
  }

  update(patch) {
    if (!this.current) return;
    Object.assign(this.current, patch);
    this.flush();
  }

  add(event) {
    if (!this.current) return;
    this.current.events.push(event);
    if (this.timer === null) this.timer = setTimeout(() => this.flush(), WRITE_DELAY_MS);
  }

  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.current) return;
    try {
      this.storage.setItem(KEY, JSON.stringify(this.current));
    } catch {
      // storage full or unavailable: a reload then cannot resume this run (it is in history)
    }
  }

  /** The stored run, or null; the stored copy is kept until clear(). */
  load() {
    try {
      const stored = JSON.parse(this.storage.getItem(KEY) ?? "null");
      return stored && typeof stored === "object" && Array.isArray(stored.events) ? stored : null;
    } catch {
      return null;
    }
  }

  clear() {
    clearTimeout(this.timer);
    this.timer = null;
    this.current = null;
    this.storage.removeItem(KEY);
  }
}
