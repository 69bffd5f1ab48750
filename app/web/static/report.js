// The final report of a run: Markdown (rendered safely), charts, usage and data provenance.
//
// Charts arrive as SVG documents. They are shown through <img src="data:image/svg+xml;base64,…">:
// an SVG loaded as an image cannot run scripts or load anything, unlike SVG inserted into the DOM.

import { renderMarkdown, safeUrl } from "./markdown.js";
import { formatDuration } from "./run-view.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A data: URI that displays an SVG document as an inert image. */
export function svgDataUri(svg) {
  const bytes = new TextEncoder().encode(String(svg));
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

function number(value, digits) {
  return Number(value ?? 0).toLocaleString(undefined, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function renderCharts(container, charts) {
  container.replaceChildren(
    ...(charts ?? []).map((chart) => {
      const figure = el("figure", "chart");
      const img = el("img");
      img.src = svgDataUri(chart.svg);
      img.alt = chart.title || "Chart";
      img.decoding = "async";
      figure.append(img, el("figcaption", "", chart.title || ""));
      return figure;
    }),
  );
}

/** Three significant digits: an offline run's energy is a few millionths of a Wh. */
function significant(value) {
  return Number(value ?? 0).toLocaleString(undefined, { maximumSignificantDigits: 3 });
}

/**
 * The run's usage. An offline run (energy_basis "cpu_time") ran no language model: it shows
 * no tokens or cost but its measured CPU time, and its energy labelled as estimated from it.
 */
export function renderUsage(container, usage, durationMs) {
  const u = usage ?? {};
  const rows =
    u.energy_basis === "cpu_time"
      ? [
          ["Language model", "none (offline engine): 0 tokens, no cost"],
          ["CPU time", `${number(u.cpu_ms, 1)} ms (measured)`],
          ["Energy", `${significant(u.cpu_energy_wh)} Wh (estimate from CPU time)`],
          ["Emissions", `${significant(u.emissions_g_co2e)} g CO₂e (estimate)`],
        ]
      : [
          ["Estimated cost", `$${number(u.cost_usd, 4)}`],
          ["Energy", `${number(u.energy_wh, 3)} Wh (estimate from tokens)`],
          ["Emissions", `${number(u.emissions_g_co2e, 3)} g CO₂e (estimate)`],
          ["Tokens in / out", `${number(u.input_tokens, 0)} / ${number(u.output_tokens, 0)}`],
          ["Model calls", number(u.llm_calls, 0)],
        ];
  rows.push(["Duration", formatDuration(durationMs ?? u.wall_ms) || "–"]);
  container.replaceChildren(
    ...rows.flatMap(([label, value]) => [el("dt", "", label), el("dd", "", value)]),
  );
}

export function renderSources(container, sources) {
  if (!sources?.length) {
    container.replaceChildren(el("li", "muted", "No external data was used."));
    return;
  }
  container.replaceChildren(
    ...sources.map((source) => {
      const li = el("li", "source");
      const href = safeUrl(source.url);
      let name = el("strong", "", source.name ?? "source");
      if (href) {
        const a = el("a");
        a.href = href;
        a.rel = "noopener noreferrer";
        a.target = "_blank";
        a.append(name);
        name = a;
      }
      li.append(name, el("span", "source-kind", ` ${source.kind ?? ""}`));
      li.append(
        source.synthetic
          ? el("span", "badge synthetic", "synthetic")
          : el("span", "badge measured", "measured"),
      );
      if (source.detail) li.append(el("p", "source-detail", source.detail));
      return li;
    }),
  );
}

const IMAGE_LINE = /^!\[(?:\\.|[^\]\\\n])*\]\(([^()\s]+)\)$/;

/**
 * The report without the Markdown image links of its own charts (the service appends them,
 * under "## Chart images", for clients that only read text): this page shows those charts
 * itself, from their SVG. Other lines, and the downloaded Markdown, are left as they are.
 */
export function withoutChartLinks(markdown, charts) {
  const urls = new Set((charts ?? []).map((chart) => chart.url).filter(Boolean));
  if (!urls.size) return markdown;
  const kept = markdown.split("\n").filter((line) => {
    const image = IMAGE_LINE.exec(line.trim());
    return !(image && urls.has(image[1]));
  });
  return kept.join("\n").replace(/\n+## Chart images\s*$/, "\n");
}

/** Render a completed event's data into the report card's elements. */
export function renderReport(els, data) {
  const markdown = data.full_content || data.final_response || "";
  els.body.replaceChildren(renderMarkdown(withoutChartLinks(markdown, data.charts)));
  renderCharts(els.charts, data.charts);
  renderUsage(els.usage, data.usage, data.duration_ms);
  renderSources(els.sources, data.sources);
  return markdown;
}

/** Offer Markdown text as a file download. */
export function downloadMarkdown(text, filename) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/markdown;charset=utf-8" }));
  const a = el("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Copy text to the clipboard; falls back to a selected textarea when the API is refused. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = el("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}
