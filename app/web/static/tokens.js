// Personal access tokens: create, list and revoke the signed-in user's tokens for scripts.
//
// A new token's secret is shown once, in a read-only field with a Copy button, and is dropped
// from the page as soon as the panel is reloaded or the user signs out: the service keeps only
// its hash and the list shows the last four characters. Everything is rendered as text.

import { ApiError } from "./api.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatDate(value) {
  if (!value) return "never";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

export class TokenPanel {
  /**
   * @param {import("./api.js").Api} api
   * @param {{form: HTMLFormElement, name: HTMLInputElement, days: HTMLInputElement,
   *   list: HTMLElement, empty: HTMLElement, status: HTMLElement, created: HTMLElement,
   *   secret: HTMLInputElement, copy: HTMLButtonElement, example: HTMLElement}} elements
   */
  constructor(api, elements) {
    this.api = api;
    this.els = elements;
    elements.form.addEventListener("submit", (event) => this.onCreate(event));
    elements.copy.addEventListener("click", () => this.copySecret());
  }

  status(text, kind = "info") {
    this.els.status.textContent = text;
    this.els.status.dataset.kind = kind;
  }

  describe(error) {
    if (error instanceof ApiError) return error.detail;
    return `Could not reach the service (${error?.message ?? error}).`;
  }

  /** Forget everything shown (sign-out, or another user signing in). */
  reset() {
    this.hideSecret();
    this.els.list.replaceChildren();
    this.els.empty.hidden = false;
    this.status("");
    this.els.form.reset();
  }

  hideSecret() {
    this.els.secret.value = "";
    this.els.created.hidden = true;
  }

  async load() {
    let tokens;
    try {
      ({ tokens } = await this.api.json("GET", "/auth/tokens"));
    } catch (error) {
      this.status(this.describe(error), "error");
      return;
    }
    this.render(tokens);
  }

  render(tokens) {
    this.els.empty.hidden = tokens.length > 0;
    this.els.list.replaceChildren(
      ...tokens.map((token) => {
        const li = el("li", "token-item");
        li.dataset.tokenId = token.id;
        const name = el("span", "token-name", token.name);
        const meta = el(
          "span",
          "token-meta",
          `…${token.hint} · expires ${formatDate(token.expires_at)} · last used ${formatDate(token.last_used_at)}`,
        );
        const revoke = el("button", "button danger small", "Revoke");
        revoke.type = "button";
        revoke.setAttribute("aria-label", `Revoke token ${token.name}`);
        revoke.addEventListener("click", () => this.revoke(token));
        li.append(name, meta, revoke);
        return li;
      }),
    );
  }

  async onCreate(event) {
    event.preventDefault();
    const name = this.els.name.value.trim();
    const days = Number(this.els.days.value || 30);
    if (!name) {
      this.status("Give the token a name, for example the script that will use it.", "error");
      this.els.name.focus();
      return;
    }
    this.hideSecret();
    try {
      const created = await this.api.json("POST", "/auth/tokens", {
        body: { name, expires_in_days: days },
      });
      this.els.secret.value = created.token;
      this.els.example.textContent =
        `curl -N -H "Authorization: Bearer ${created.token}" -H "Content-Type: application/json" ` +
        `-d '{"question": "…"}' ${window.location.origin}/ask-stream`;
      this.els.created.hidden = false;
      this.els.form.reset();
      this.status(`Token "${created.name}" created. Copy it now: it will not be shown again.`, "success");
      this.els.secret.focus();
      this.els.secret.select();
    } catch (error) {
      this.status(this.describe(error), "error");
      return;
    }
    await this.load();
  }

  async revoke(token) {
    try {
      await this.api.json("DELETE", `/auth/tokens/${encodeURIComponent(token.id)}`);
      this.status(`Token "${token.name}" revoked.`, "success");
    } catch (error) {
      this.status(this.describe(error), "error");
    }
    await this.load();
  }

  async copySecret() {
    const value = this.els.secret.value;
    if (!value) return;
    try {
      await navigator.clipboard.writeText(value);
      this.status("Token copied.", "success");
    } catch {
      this.els.secret.select();
      this.status("Copy failed: the token is selected, copy it with the keyboard.", "error");
    }
  }
}
