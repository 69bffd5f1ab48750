// A small, sanitizing, linear-time Markdown renderer.
//
// Reports are written by a language model, so their text is untrusted. This renderer never
// parses HTML: it builds DOM nodes with createElement/createTextNode only, so any "<script>" or
// "<img onerror>" in the text stays visible text. Links are kept only for absolute http(s) URLs
// and open with rel="noopener noreferrer". Supported: ATX headings, paragraphs, emphasis
// (bold, italic, strikethrough), inline code, links, bare URLs, lists (nested by indentation),
// block quotes, tables (GFM pipes with alignment), fenced code blocks and horizontal rules.
//
// Time is linear in the input, whatever the input (a hostile report must not freeze the tab):
// - no regular expression can backtrack over a line more than once (the heading, fence and
//   table-separator grammars are read by hand; the others are anchored and unambiguous);
// - closing delimiters are found in tables built once per text (the next valid closer of each
//   kind, matching brackets, backtick runs by length), never by scanning ahead per opener;
// - inline text is walked once: nested spans are ranges of the same text, not copies;
// - nesting is bounded (quotes, emphasis, links), and so are link targets, URLs and tables.
// bench/markdown.py times it against a normal report and against markdown-it + DOMPurify.

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})/;
const FENCE_LANGUAGE = /^\s*([\w+#.-]*)/;
const HEADING_OPEN = /^ {0,3}(#{1,6})(?=[ \t]|$)/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const LIST_ITEM = /^([ \t]*)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
const QUOTE = /^ {0,3}>[ ]?(.*)$/;
const SEPARATOR_CELL = /^:?-+:?$/;

const MAX_QUOTE_DEPTH = 8; // deeper ">" markers are text
const MAX_INLINE_DEPTH = 16; // deeper emphasis/link delimiters are text
const MAX_TABLE_COLUMNS = 64; // wider "tables" are paragraphs (rows x columns stays linear)
const MAX_URL_LENGTH = 2048; // link targets and bare URLs longer than this are text

/**
 * Render Markdown text to a DocumentFragment.
 * @param {string} source untrusted Markdown
 * @param {{headingOffset?: number}} [options] shift heading levels (1 turns "#" into <h2>)
 * @returns {DocumentFragment}
 */
export function renderMarkdown(source, options = {}) {
  const offset = options.headingOffset ?? 1;
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  const fragment = document.createDocumentFragment();
  renderBlocks(lines, fragment, offset, 0);
  return fragment;
}

/** Render text with inline Markdown (emphasis, code, links) into a fragment. */
export function renderInline(text) {
  const fragment = document.createDocumentFragment();
  appendInline(fragment, String(text ?? ""));
  return fragment;
}

/** `{marker, language}` if the line opens a fenced code block, else null. */
function parseFence(line) {
  const open = FENCE_OPEN.exec(line);
  if (!open) return null;
  const info = line.slice(open[0].length);
  if (info.includes("`")) return null;
  return { marker: open[1], language: FENCE_LANGUAGE.exec(info)[1] };
}

/** `{level, text}` if the line is an ATX heading, else null. */
function parseHeading(line) {
  const open = HEADING_OPEN.exec(line);
  if (!open) return null;
  let text = line.slice(open[0].length).trim();
  // An optional closing sequence: "## Title ##" (a "#" run that is the whole text or follows
  // a space), read from the end without a backtracking pattern.
  let end = text.length;
  while (end > 0 && text[end - 1] === "#") end -= 1;
  if (end === 0) text = "";
  else if (end < text.length && (text[end - 1] === " " || text[end - 1] === "\t")) {
    text = text.slice(0, end).trimEnd();
  }
  return { level: open[1].length, text };
}

function isTableSeparator(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|")) row = row.slice(0, -1);
  return row.split("|").every((cell) => SEPARATOR_CELL.test(cell.trim()));
}

function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  return node;
}

function isBlank(line) {
  return line.trim() === "";
}

function isTableStart(lines, i) {
  return (
    i + 1 < lines.length &&
    lines[i].includes("|") &&
    lines[i + 1].includes("-") &&
    isTableSeparator(lines[i + 1]) &&
    splitRow(lines[i]).length <= MAX_TABLE_COLUMNS
  );
}

function startsBlock(lines, i) {
  const line = lines[i];
  return (
    parseFence(line) !== null ||
    parseHeading(line) !== null ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    LIST_ITEM.test(line) ||
    isTableStart(lines, i)
  );
}

function renderBlocks(lines, parent, offset, depth) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i += 1;
      continue;
    }
    const fence = parseFence(line);
    if (fence) {
      i = renderFence(lines, i, fence, parent);
      continue;
    }
    const heading = parseHeading(line);
    if (heading) {
      const level = Math.min(6, heading.level + offset);
      const node = el(`h${level}`);
      appendInline(node, heading.text);
      parent.append(node);
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      parent.append(el("hr"));
      i += 1;
      continue;
    }
    if (depth < MAX_QUOTE_DEPTH && QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length && !isBlank(lines[i])) {
        const quoted = QUOTE.exec(lines[i]);
        inner.push(quoted ? quoted[1] : lines[i]);
        i += 1;
      }
      const node = el("blockquote");
      renderBlocks(inner, node, offset, depth + 1);
      parent.append(node);
      continue;
    }
    if (isTableStart(lines, i)) {
      i = renderTable(lines, i, parent);
      continue;
    }
    if (LIST_ITEM.test(line)) {
      i = renderList(lines, i, parent);
      continue;
    }
    const paragraph = [];
    while (i < lines.length && !isBlank(lines[i]) && (paragraph.length === 0 || !startsBlock(lines, i))) {
      paragraph.push(lines[i].trim());
      i += 1;
    }
    const node = el("p");
    appendInline(node, paragraph.join("\n"));
    parent.append(node);
  }
}

function renderFence(lines, start, fence, parent) {
  const marker = fence.marker;
  const body = [];
  let i = start + 1;
  while (i < lines.length) {
    const trimmed = lines[i].trim();
    if (trimmed.startsWith(marker) && /^([`~])\1*$/.test(trimmed)) {
      i += 1;
      break;
    }
    body.push(lines[i]);
    i += 1;
  }
  const pre = el("pre");
  const code = el("code", body.join("\n"));
  if (fence.language) code.dataset.language = fence.language;
  pre.append(code);
  pre.tabIndex = 0; // wide dashboards scroll horizontally: let keyboard users reach them
  parent.append(pre);
  return i;
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  const cells = [];
  let current = "";
  for (let k = 0; k < row.length; k += 1) {
    const ch = row[k];
    if (ch === "\\" && row[k + 1] === "|") {
      current += "|";
      k += 1;
    } else if (ch === "|") {
      cells.push(current.trim());
      current = "";
    } else {
      current += ch;
    }
  }
  cells.push(current.trim());
  return cells;
}

function renderTable(lines, start, parent) {
  const header = splitRow(lines[start]);
  const aligns = splitRow(lines[start + 1]).map((cell) => {
    const left = cell.startsWith(":");
    const right = cell.endsWith(":");
    if (left && right) return "center";
    if (right) return "right";
    return left ? "left" : "";
  });
  const wrapper = el("div");
  wrapper.className = "table-scroll";
  wrapper.tabIndex = 0;
  const table = el("table");
  const thead = el("thead");
  const headRow = el("tr");
  header.forEach((cell, index) => {
    const th = el("th");
    th.scope = "col";
    if (aligns[index]) th.style.textAlign = aligns[index];
    appendInline(th, cell);
    headRow.append(th);
  });
  thead.append(headRow);
  table.append(thead);
  const tbody = el("tbody");
  let i = start + 2;
  while (i < lines.length && !isBlank(lines[i]) && lines[i].includes("|")) {
    const cells = splitRow(lines[i]);
    const tr = el("tr");
    for (let index = 0; index < header.length; index += 1) {
      const td = el("td");
      if (aligns[index]) td.style.textAlign = aligns[index];
      appendInline(td, cells[index] ?? "");
      tr.append(td);
    }
    tbody.append(tr);
    i += 1;
  }
  table.append(tbody);
  wrapper.append(table);
  parent.append(wrapper);
  return i;
}

function indentWidth(text) {
  return text.replace(/\t/g, "    ").length;
}

function renderList(lines, start, parent) {
  // Stack of open lists: each has the indentation of its items and its element.
  const stack = [];
  let i = start;
  let lastItem = null;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      // A blank line ends the list unless the next line continues it.
      if (i + 1 < lines.length && LIST_ITEM.test(lines[i + 1])) {
        i += 1;
        continue;
      }
      break;
    }
    const item = LIST_ITEM.exec(line);
    if (!item) {
      if (lastItem && !startsBlock(lines, i)) {
        // Lazy continuation of the previous item's text.
        lastItem.append(document.createTextNode(" "));
        appendInline(lastItem, line.trim());
        i += 1;
        continue;
      }
      break;
    }
    const indent = indentWidth(item[1]);
    const ordered = /\d/.test(item[2]);
    while (stack.length > 1 && indent < stack[stack.length - 1].indent) stack.pop();
    let top = stack[stack.length - 1];
    const nested = top && indent >= top.indent + 2 && lastItem;
    if (top && !nested && top.ordered !== ordered) {
      // Switching between bullets and numbers at the same level starts a new list.
      if (stack.length === 1) break;
      stack.pop();
      top = null;
    }
    if (!top || nested) {
      const list = el(ordered ? "ol" : "ul");
      if (ordered) {
        const first = Number.parseInt(item[2], 10);
        if (first !== 1) list.start = first;
      }
      const container = nested || stack.length > 0 ? lastItem : parent;
      container.append(list);
      top = { indent, list, ordered };
      stack.push(top);
    }
    const li = el("li");
    appendInline(li, item[3]);
    top.list.append(li);
    lastItem = li;
    i += 1;
  }
  return i;
}

// ---- inline ---------------------------------------------------------------------------------

const SAFE_SCHEME = /^https?:$/;

/** The URL if it is an absolute http(s) URL, else null. */
export function safeUrl(raw) {
  const text = String(raw ?? "").trim();
  if (!/^https?:\/\//i.test(text)) return null;
  try {
    const url = new URL(text);
    return SAFE_SCHEME.test(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function anchor(href) {
  const a = el("a");
  a.href = href;
  a.rel = "noopener noreferrer";
  a.target = "_blank";
  return a;
}

/** A link whose text is the URL itself (bare URLs, autolinks, empty labels). */
function literalLink(href, text) {
  const a = anchor(href);
  a.textContent = text;
  return a;
}

const WHITESPACE = /\s/;
const WORD = /\w/;
const ESCAPABLE = /[\\`*_{}[\]()#+\-.!|~<>]/;
const LINK_TARGET = /^\(\s*<?((?:[^\s()<>]|\([^\s()<>]*\))*)>?(?:\s+"[^"]*")?\s*\)/;
const AUTOLINK = /^<(https?:\/\/[^\s<>]+)>/i;
const BARE_URL = /^https?:\/\/[^\s<>]+/i;

function isSpace(ch) {
  return ch !== undefined && WHITESPACE.test(ch);
}

/**
 * Everything the inline pass needs to find a closing delimiter in O(1), built lazily once per
 * text (a paragraph, a heading, a table cell): each table is one linear pass.
 */
class InlineText {
  constructor(text) {
    this.text = text;
    this.closers = new Map();
    this.brackets = null;
    this.ticks = null;
  }

  /** Whether `delim` at `at` can close emphasis: after a non-space, not escaped, and a single
   * "*"/"_" not part of a longer run ("_" also not inside a word: snake_case_name). */
  canClose(delim, at) {
    const text = this.text;
    const before = text[at - 1];
    if (at === 0 || isSpace(before) || before === "\\") return false;
    if (delim.length === 2) return true;
    const after = text[at + 1];
    if (after === delim || before === delim) return false;
    return !(delim === "_" && after !== undefined && WORD.test(after));
  }

  /** The first position >= `from` where `delim` can close, or -1. */
  nextCloser(delim, from) {
    let table = this.closers.get(delim);
    if (table === undefined) {
      const text = this.text;
      table = new Int32Array(text.length + 1).fill(-1);
      for (let k = text.length - 1; k >= 0; k -= 1) {
        table[k] = text.startsWith(delim, k) && this.canClose(delim, k) ? k : table[k + 1];
      }
      this.closers.set(delim, table);
    }
    return from < table.length ? table[from] : -1;
  }

  /** The "]" matching the "[" at `open` (nesting and backslash escapes honoured), or -1. */
  matchingBracket(open) {
    if (this.brackets === null) {
      const text = this.text;
      this.brackets = new Int32Array(text.length).fill(-1);
      const stack = [];
      for (let k = 0; k < text.length; k += 1) {
        const ch = text[k];
        if (ch === "\\") k += 1;
        else if (ch === "[") stack.push(k);
        else if (ch === "]" && stack.length > 0) this.brackets[stack.pop()] = k;
      }
    }
    return this.brackets[open];
  }

  /** The start of the next run of exactly `length` backticks after `from`, or -1. Runs are
   * indexed by length once; each length's cursor only moves forward (the walk is in order). */
  nextTickRun(length, from) {
    if (this.ticks === null) {
      this.ticks = new Map();
      const text = this.text;
      for (let k = 0; k < text.length; ) {
        if (text[k] !== "`") {
          k += 1;
          continue;
        }
        let end = k;
        while (text[end] === "`") end += 1;
        const runs = this.ticks.get(end - k) ?? { starts: [], cursor: 0 };
        runs.starts.push(k);
        this.ticks.set(end - k, runs);
        k = end;
      }
    }
    const runs = this.ticks.get(length);
    if (runs === undefined) return -1;
    while (runs.cursor < runs.starts.length && runs.starts[runs.cursor] <= from) runs.cursor += 1;
    return runs.cursor < runs.starts.length ? runs.starts[runs.cursor] : -1;
  }
}

function appendInline(parent, text) {
  const ctx = new InlineText(text);
  appendRange(parent, ctx, 0, text.length, 0, false);
}

// Render text[start, end) into parent. Nested spans recurse on sub-ranges of the same text and
// the caller resumes after them, so every character is visited once at one depth.
function appendRange(parent, ctx, start, end, depth, inLink) {
  const text = ctx.text;
  const nest = depth < MAX_INLINE_DEPTH;
  let buffer = "";
  const flush = () => {
    if (buffer) parent.append(document.createTextNode(buffer));
    buffer = "";
  };
  let i = start;
  while (i < end) {
    const ch = text[i];
    if (ch === "\\" && i + 1 < end && ESCAPABLE.test(text[i + 1])) {
      buffer += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "\n") {
      flush();
      parent.append(el("br"));
      i += 1;
      continue;
    }
    if (ch === "`") {
      let runEnd = i;
      while (runEnd < end && text[runEnd] === "`") runEnd += 1;
      const length = runEnd - i;
      const close = ctx.nextTickRun(length, i);
      if (close > 0 && close + length <= end && text[close + length] !== "`") {
        flush();
        parent.append(el("code", text.slice(runEnd, close).trim() || " "));
        i = close + length;
        continue;
      }
      buffer += text.slice(i, runEnd);
      i = runEnd;
      continue;
    }
    if (nest && (ch === "*" || ch === "_" || ch === "~") && text[i + 1] === ch && i + 2 <= end) {
      const pair = ch + ch;
      const close = findClose(ctx, pair, i + 2, end);
      const wordUnderscore = pair === "__" && i > start && WORD.test(text[i - 1]);
      if (close > 0 && !wordUnderscore) {
        flush();
        const node = el(pair === "~~" ? "del" : "strong");
        appendRange(node, ctx, i + 2, close, depth + 1, inLink);
        parent.append(node);
        i = close + 2;
        continue;
      }
    }
    if (nest && (ch === "*" || ch === "_")) {
      const close = findClose(ctx, ch, i + 1, end);
      const wordUnderscore = ch === "_" && i > start && WORD.test(text[i - 1]);
      if (close > 0 && !wordUnderscore) {
        flush();
        const node = el("em");
        appendRange(node, ctx, i + 1, close, depth + 1, inLink);
        parent.append(node);
        i = close + 1;
        continue;
      }
    }
    if (nest && !inLink && (ch === "[" || (ch === "!" && text[i + 1] === "["))) {
      const open = ch === "!" ? i + 1 : i;
      const close = open < end ? ctx.matchingBracket(open) : -1;
      const target =
        close > 0 && close + 1 < end && text[close + 1] === "("
          ? LINK_TARGET.exec(text.slice(close + 1, Math.min(end, close + 1 + MAX_URL_LENGTH)))
          : null;
      if (target) {
        flush();
        const href = safeUrl(target[1]);
        if (href && close > open + 1) {
          const a = anchor(href);
          appendRange(a, ctx, open + 1, close, depth + 1, true);
          parent.append(a);
        } else if (href) parent.append(literalLink(href, href));
        else appendRange(parent, ctx, open + 1, close, depth + 1, inLink);
        i = close + 1 + target[0].length;
        continue;
      }
    }
    if (!inLink && ch === "<") {
      const auto = AUTOLINK.exec(text.slice(i, Math.min(end, i + MAX_URL_LENGTH + 2)));
      const href = auto ? safeUrl(auto[1]) : null;
      if (href) {
        flush();
        parent.append(literalLink(href, auto[1]));
        i += auto[0].length;
        continue;
      }
    }
    if (!inLink && (ch === "h" || ch === "H") && (i === start || /[\s(]/.test(text[i - 1]))) {
      const bare = BARE_URL.exec(text.slice(i, Math.min(end, i + MAX_URL_LENGTH)));
      if (bare) {
        const url = bare[0].replace(/[.,;:!?)\]'"]+$/, "");
        const href = safeUrl(url);
        flush();
        // Not a usable URL: the whole run is text, so nothing inside it is looked at again.
        if (href) parent.append(literalLink(href, url));
        else buffer += url;
        i += Math.max(url.length, 1);
        continue;
      }
    }
    buffer += ch;
    i += 1;
  }
  flush();
}

// The closing delimiter of emphasis opened just before `from`: the content may not be empty
// or start/end with whitespace (so "2 * 3 * 4" stays literal), and must end inside the range.
function findClose(ctx, delim, from, end) {
  if (from >= end || isSpace(ctx.text[from])) return -1;
  const at = ctx.nextCloser(delim, from + 1);
  return at > 0 && at + delim.length <= end ? at : -1;
}
