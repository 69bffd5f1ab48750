// Server-Sent Events over fetch.
//
// The run streams are POST requests with a bearer header, which EventSource cannot send, so we
// read the body with a stream reader and parse the event-stream format ourselves, following the
// HTML specification: lines end in CRLF, LF or CR (a CRLF may be split across chunks), lines
// starting with ":" are comments (keep-alives), "data" lines of one event are joined with "\n",
// and an event is dispatched on a blank line. An unterminated event at end of stream is dropped.

export class SSEParser {
  constructor() {
    this.buffer = "";
    this.lastEventId = "";
    this.resetEvent();
  }

  resetEvent() {
    this.data = [];
    this.eventType = "";
    this.hasData = false;
  }

  /**
   * Feed a chunk of decoded text; returns the events completed by it.
   * @param {string} chunk
   * @returns {{id: string, event: string, data: string}[]}
   */
  feed(chunk) {
    this.buffer += chunk;
    const events = [];
    let start = 0;
    for (let k = 0; k < this.buffer.length; k += 1) {
      const ch = this.buffer[k];
      if (ch !== "\n" && ch !== "\r") continue;
      if (ch === "\r" && k === this.buffer.length - 1) break; // maybe the first half of CRLF
      const line = this.buffer.slice(start, k);
      if (ch === "\r" && this.buffer[k + 1] === "\n") k += 1;
      start = k + 1;
      const event = this.processLine(line);
      if (event) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  processLine(line) {
    if (line === "") {
      if (!this.hasData) {
        this.resetEvent();
        return null;
      }
      const event = {
        id: this.lastEventId,
        event: this.eventType || "message",
        data: this.data.join("\n"),
      };
      this.resetEvent();
      return event;
    }
    if (line.startsWith(":")) return null; // comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      this.data.push(value);
      this.hasData = true;
    } else if (field === "event") {
      this.eventType = value;
    } else if (field === "id" && !value.includes("\0")) {
      this.lastEventId = value;
    }
    return null;
  }
}

/**
 * Parse one SSE message of a run stream into the event object of its {"event": {...}} envelope.
 * @returns {object | null} null for messages that are not run events
 */
export function parseRunEvent(message) {
  let payload;
  try {
    payload = JSON.parse(message.data);
  } catch {
    return null;
  }
  const event = payload && typeof payload === "object" ? payload.event : null;
  if (!event || typeof event !== "object" || typeof event.event_type !== "string") return null;
  return event;
}

/**
 * Yield the run events of a fetch Response with an event-stream body.
 * @param {Response} response
 * @returns {AsyncGenerator<object>}
 */
export async function* readRunEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SSEParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const message of parser.feed(value)) {
        const event = parseRunEvent(message);
        if (event) yield event;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
