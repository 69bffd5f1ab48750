// A small, sanitizing Markdown renderer.
//
// Reports are written by a language model, so their text is untrusted. This renderer never
// parses HTML: it builds DOM nodes with createElement/createTextNode only, so any "<script>" or
// "<img onerror>" in the text stays visible text. Links are kept only for absolute http(s) URLs
// and open with rel="noopener noreferrer". Supported: ATX headings, paragraphs, emphasis
// (bold, italic, strikethrough), inline code, links, bare URLs, lists (nested by indentation),
// block quotes, tables (GFM pipes with alignment), fenced code blocks and horizontal rules.

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const LIST_ITEM = /^([ \t]*)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
const QUOTE = /^ {0,3}>[ ]?(.*)$/;
const TABLE_SEPARATOR = /^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;

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
  renderBlocks(lines, fragment, offset);
  return fragment;
}

/** Render text with inline Markdown (emphasis, code, links) into a fragment. */
export function renderInline(text) {
  const fragment = document.createDocumentFragment();
  appendInline(fragment, String(text ?? ""));
  return fragment;
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
    TABLE_SEPARATOR.test(lines[i + 1]) &&
    lines[i + 1].includes("-")
  );
}

function startsBlock(lines, i) {
  const line = lines[i];
  return (
    FENCE.test(line) ||
    HEADING.test(line) ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    LIST_ITEM.test(line) ||
    isTableStart(lines, i)
  );
}

function renderBlocks(lines, parent, offset) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i += 1;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      i = renderFence(lines, i, fence, parent);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = Math.min(6, heading[1].length + offset);
      const node = el(`h${level}`);
      appendInline(node, heading[2] ?? "");
      parent.append(node);
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      parent.append(el("hr"));
      i += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length && !isBlank(lines[i])) {
        const quoted = QUOTE.exec(lines[i]);
        inner.push(quoted ? quoted[1] : lines[i]);
        i += 1;
      }
      const node = el("blockquote");
      renderBlocks(inner, node, offset);
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

function renderFence(lines, start, match, parent) {
  const marker = match[1];
  const body = [];
  let i = start + 1;
  while (i < lines.length) {
    const trimmed = lines[i].trim();
    if (trimmed.startsWith(marker[0].repeat(marker.length)) && /^([`~])\1*$/.test(trimmed)) {
      i += 1;
      break;
    }
    body.push(lines[i]);
    i += 1;
  }
  const pre = el("pre");
  const code = el("code", body.join("\n"));
  if (match[2]) code.dataset.language = match[2];
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

function link(href, label, { literal = false } = {}) {
  const a = el("a");
  a.href = href;
  a.rel = "noopener noreferrer";
  a.target = "_blank";
  if (literal) a.textContent = label;
  else appendInline(a, label, { inLink: true });
  return a;
}

// Find the closing delimiter for emphasis starting after `from`; the content may not be empty
// or start/end with whitespace (so "2 * 3 * 4" stays literal).
function findClose(text, delim, from) {
  let k = from;
  while (k < text.length) {
    const at = text.indexOf(delim, k);
    if (at < 0) return -1;
    const inner = text.slice(from, at);
    if (inner.length > 0 && !/^\s/.test(inner) && !/\s$/.test(inner)) {
      if (delim.length === 1 && text[at + 1] === delim) {
        k = at + 2; // part of a stronger delimiter
        continue;
      }
      return at;
    }
    k = at + 1;
  }
  return -1;
}

// Find the matching "]" for a "[" at `open`, honouring nesting and escapes.
function findBracket(text, open) {
  let depth = 0;
  for (let k = open; k < text.length; k += 1) {
    const ch = text[k];
    if (ch === "\\") k += 1;
    else if (ch === "[") depth += 1;
    else if (ch === "]") {
      depth -= 1;
      if (depth === 0) return k;
    }
  }
  return -1;
}

function appendInline(parent, text, { inLink = false } = {}) {
  let buffer = "";
  const flush = () => {
    if (buffer) parent.append(document.createTextNode(buffer));
    buffer = "";
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const rest = text.slice(i);
    if (ch === "\\" && i + 1 < text.length && /[\\`*_{}[\]()#+\-.!|~<>]/.test(text[i + 1])) {
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
      const run = /^`+/.exec(rest)[0];
      const close = text.indexOf(run, i + run.length);
      if (close > 0) {
        flush();
        parent.append(el("code", text.slice(i + run.length, close).trim() || " "));
        i = close + run.length;
        continue;
      }
      buffer += run;
      i += run.length;
      continue;
    }
    if (rest.startsWith("**") || rest.startsWith("__") || rest.startsWith("~~")) {
      const delim = rest.slice(0, 2);
      const close = findClose(text, delim, i + 2);
      const wordUnderscore = delim === "__" && i > 0 && /\w/.test(text[i - 1]);
      if (close > 0 && !wordUnderscore) {
        flush();
        const node = el(delim === "~~" ? "del" : "strong");
        appendInline(node, text.slice(i + 2, close), { inLink });
        parent.append(node);
        i = close + 2;
        continue;
      }
    }
    if (ch === "*" || ch === "_") {
      const close = findClose(text, ch, i + 1);
      const wordUnderscore =
        ch === "_" && ((i > 0 && /\w/.test(text[i - 1])) || /\w/.test(text[close + 1] ?? ""));
      if (close > 0 && !wordUnderscore) {
        flush();
        const node = el("em");
        appendInline(node, text.slice(i + 1, close), { inLink });
        parent.append(node);
        i = close + 1;
        continue;
      }
    }
    if (!inLink && (ch === "[" || (ch === "!" && text[i + 1] === "["))) {
      const open = ch === "!" ? i + 1 : i;
      const close = findBracket(text, open);
      const target = close > 0 ? /^\(\s*<?((?:[^\s()<>]|\([^\s()<>]*\))*)>?(?:\s+"[^"]*")?\s*\)/.exec(text.slice(close + 1)) : null;
      if (target) {
        flush();
        const label = text.slice(open + 1, close);
        const href = safeUrl(target[1]);
        if (href) parent.append(link(href, label || href));
        else appendInline(parent, label);
        i = close + 1 + target[0].length;
        continue;
      }
    }
    if (!inLink && ch === "<") {
      const auto = /^<(https?:\/\/[^\s<>]+)>/i.exec(rest);
      const href = auto ? safeUrl(auto[1]) : null;
      if (href) {
        flush();
        parent.append(link(href, auto[1], { literal: true }));
        i += auto[0].length;
        continue;
      }
    }
    if (!inLink && (ch === "h" || ch === "H") && (i === 0 || /[\s(]/.test(text[i - 1]))) {
      const bare = /^https?:\/\/[^\s<>]+/i.exec(rest);
      if (bare) {
        const url = bare[0].replace(/[.,;:!?)\]'"]+$/, "");
        const href = safeUrl(url);
        if (href) {
          flush();
          parent.append(link(href, url, { literal: true }));
          i += url.length;
          continue;
        }
      }
    }
    buffer += ch;
    i += 1;
  }
  flush();
}
