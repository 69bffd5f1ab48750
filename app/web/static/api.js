// HTTP client for the service: JSON calls, streams, and the signed-in session.
//
// Token storage: the access token lives only in memory (a module variable), so a script injected
// later cannot find it in storage. The refresh token is kept in sessionStorage: it lets a reload
// (for example in the middle of a run) restore the session in this tab, it disappears when the
// tab closes, and it is not shared between tabs — which matters because refresh tokens rotate
// with reuse detection: two tabs sharing one token would race and revoke each other's family.
// The service returns the refresh token in the JSON body (the API contract), so an HttpOnly
// cookie would need a cookie-setting endpoint plus CSRF protection; the page's strict CSP and the
// text-only renderer are what protect sessionStorage from script injection instead.

const REFRESH_KEY = "sca.refresh_token";
const EARLY_REFRESH_S = 300; // tokens are treated as expired five minutes early (API contract)

export class ApiError extends Error {
  constructor(status, detail, code) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.code = code;
  }
}

/** Build an ApiError from a non-2xx response ({detail, code} JSON when the service sent it). */
export async function errorFromResponse(response) {
  let detail = `The service answered ${response.status} ${response.statusText}`.trim();
  let code = `http_${response.status}`;
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string" && body.detail) detail = body.detail;
    else if (body && Array.isArray(body.detail)) detail = body.detail.map(String).join("; ");
    if (body && typeof body.code === "string") code = body.code;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, detail, code);
}

export class Api {
  /**
   * @param {{storage?: Storage, onSessionChange?: (user: object | null) => void}} options
   */
  constructor(options = {}) {
    this.storage = options.storage ?? window.sessionStorage;
    this.onSessionChange = options.onSessionChange ?? (() => {});
    this.accessToken = null;
    this.user = null;
    this.refreshTimer = null;
    this.refreshing = null;
  }

  get signedIn() {
    return this.accessToken !== null;
  }

  get refreshToken() {
    return this.storage.getItem(REFRESH_KEY);
  }

  headers(extra = {}, auth = true) {
    const headers = { Accept: "application/json", ...extra };
    if (auth && this.accessToken) headers.Authorization = `Bearer ${this.accessToken}`;
    return headers;
  }

  /** One HTTP call; on 401 the session is refreshed once and the call retried. */
  async fetch(method, path, { body, auth = true, headers = {}, signal, retry = true } = {}) {
    const init = { method, headers: this.headers(headers, auth), signal, cache: "no-store" };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401 && auth && retry && this.refreshToken) {
      if (await this.refresh()) {
        return this.fetch(method, path, { body, auth, headers, signal, retry: false });
      }
    }
    if (!response.ok) {
      const error = await errorFromResponse(response);
      if (response.status === 401 && auth) this.clear();
      throw error;
    }
    return response;
  }

  async json(method, path, options = {}) {
    const response = await this.fetch(method, path, options);
    if (response.status === 204) return null;
    return response.json();
  }

  /** Start a streaming call; resolves once the headers are in (errors arrive as JSON first). */
  async stream(method, path, options = {}) {
    return this.fetch(method, path, {
      ...options,
      headers: { Accept: "text/event-stream", ...(options.headers ?? {}) },
    });
  }

  /** Adopt the tokens of a login or refresh response and schedule the silent refresh. */
  setTokens(tokens) {
    this.accessToken = tokens.access_token;
    if (tokens.refresh_token) this.storage.setItem(REFRESH_KEY, tokens.refresh_token);
    clearTimeout(this.refreshTimer);
    const lifetime = Number(tokens.expires_in) || 0;
    const delayS = Math.max(lifetime - EARLY_REFRESH_S, Math.min(30, lifetime / 2));
    this.refreshTimer = setTimeout(() => {
      this.refresh();
    }, delayS * 1000);
  }

  /** Exchange the refresh token for new tokens; true when the session continues. */
  async refresh() {
    if (this.refreshing) return this.refreshing;
    const token = this.refreshToken;
    if (!token) return false;
    this.refreshing = (async () => {
      try {
        const response = await fetch("/auth/refresh-token", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ refresh_token: token }),
          cache: "no-store",
        });
        if (!response.ok) {
          // Only a definite rejection ends the session; a network blip keeps it for a retry.
          if (response.status === 400 || response.status === 401 || response.status === 403) {
            this.clear();
          }
          return false;
        }
        this.setTokens(await response.json());
        return true;
      } catch {
        return false;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Restore a session after a reload: refresh, then load the user. */
  async restore() {
    if (!this.refreshToken) return null;
    if (!(await this.refresh())) return null;
    try {
      this.setUser(await this.json("GET", "/auth/me"));
    } catch {
      return null;
    }
    return this.user;
  }

  setUser(user) {
    this.user = user;
    this.onSessionChange(user);
  }

  async logout() {
    try {
      if (this.accessToken) await this.json("POST", "/auth/logout", { retry: false });
    } finally {
      this.clear();
    }
  }

  clear() {
    const wasSignedIn = this.user !== null || this.accessToken !== null;
    clearTimeout(this.refreshTimer);
    this.accessToken = null;
    this.storage.removeItem(REFRESH_KEY);
    this.user = null;
    if (wasSignedIn) this.onSessionChange(null);
  }
}
