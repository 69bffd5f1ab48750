/*
 * The predecessor's React web client, reduced to its calls: what it sends, how it reads the
 * answers, and the assumptions it makes about them. Driven by tests/e2e/test_legacy_client.py.
 *
 * Every assumption of the original is kept on purpose, because the point is to fail where it
 * would fail:
 * - passkeys go through @simplewebauthn/browser's startRegistration / startAuthentication,
 *   mimicked below: the server's options JSON is passed as is, base64url fields are decoded,
 *   and the credential is sent back as RegistrationResponseJSON / AuthenticationResponseJSON;
 * - the access token lives in localStorage and counts as expired 5 minutes before expires_in;
 * - answers stream from a POST read with fetch + a ReadableStream reader (not EventSource):
 *   the text is split on "\n" and every "data: " line is JSON.parse'd on its own;
 * - conversation ids are numbers: the router holds the id as text ("#/conversations/42") and
 *   every call runs parseInt on it (conversation_id: number);
 * - the health page reads the predecessor's scalar keys and formats them;
 * - charts are plain <img src="/images/...png"> elements: no Authorization header.
 */
"use strict";

(() => {
  // ---- @simplewebauthn/browser, as its helpers behave -------------------------------------
  function base64URLStringToBuffer(base64URLString) {
    const base64 = base64URLString.replace(/-/g, "+").replace(/_/g, "/");
    const padLength = (4 - (base64.length % 4)) % 4;
    const padded = base64.padEnd(base64.length + padLength, "=");
    const binary = atob(padded);
    const buffer = new ArrayBuffer(binary.length);
    const bytes = new Uint8Array(buffer);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return buffer;
  }

  function bufferToBase64URLString(buffer) {
    const bytes = new Uint8Array(buffer);
    let str = "";
    for (const charCode of bytes) str += String.fromCharCode(charCode);
    return btoa(str).replace(/\+/g, "-").replace(/\//g, "_").replace(/=/g, "");
  }

  function toPublicKeyCredentialDescriptor(descriptor) {
    const { id } = descriptor;
    return { ...descriptor, id: base64URLStringToBuffer(id), transports: descriptor.transports };
  }

  function toAuthenticatorAttachment(attachment) {
    return ["cross-platform", "platform"].includes(attachment) ? attachment : undefined;
  }

  async function startRegistration({ optionsJSON }) {
    const publicKey = {
      ...optionsJSON,
      challenge: base64URLStringToBuffer(optionsJSON.challenge),
      user: { ...optionsJSON.user, id: base64URLStringToBuffer(optionsJSON.user.id) },
      excludeCredentials: optionsJSON.excludeCredentials?.map(toPublicKeyCredentialDescriptor),
    };
    const credential = await navigator.credentials.create({ publicKey });
    if (!credential) throw new Error("Registration was not completed");
    const { id, rawId, response, type } = credential;
    let transports;
    if (typeof response.getTransports === "function") transports = response.getTransports();
    let publicKeyAlgorithm;
    if (typeof response.getPublicKeyAlgorithm === "function") {
      publicKeyAlgorithm = response.getPublicKeyAlgorithm();
    }
    let publicKeyBytes;
    if (typeof response.getPublicKey === "function") {
      const key = response.getPublicKey();
      if (key !== null) publicKeyBytes = bufferToBase64URLString(key);
    }
    let authenticatorData;
    if (typeof response.getAuthenticatorData === "function") {
      authenticatorData = bufferToBase64URLString(response.getAuthenticatorData());
    }
    return {
      id,
      rawId: bufferToBase64URLString(rawId),
      response: {
        attestationObject: bufferToBase64URLString(response.attestationObject),
        clientDataJSON: bufferToBase64URLString(response.clientDataJSON),
        transports,
        publicKeyAlgorithm,
        publicKey: publicKeyBytes,
        authenticatorData,
      },
      type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: toAuthenticatorAttachment(credential.authenticatorAttachment),
    };
  }

  async function startAuthentication({ optionsJSON }) {
    let allowCredentials;
    if (optionsJSON.allowCredentials?.length !== 0) {
      allowCredentials = optionsJSON.allowCredentials?.map(toPublicKeyCredentialDescriptor);
    }
    const publicKey = {
      ...optionsJSON,
      challenge: base64URLStringToBuffer(optionsJSON.challenge),
      allowCredentials,
    };
    const credential = await navigator.credentials.get({ publicKey });
    if (!credential) throw new Error("Authentication was not completed");
    const { id, rawId, response, type } = credential;
    let userHandle;
    if (response.userHandle) userHandle = bufferToBase64URLString(response.userHandle);
    return {
      id,
      rawId: bufferToBase64URLString(rawId),
      response: {
        authenticatorData: bufferToBase64URLString(response.authenticatorData),
        clientDataJSON: bufferToBase64URLString(response.clientDataJSON),
        signature: bufferToBase64URLString(response.signature),
        userHandle,
      },
      type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: toAuthenticatorAttachment(credential.authenticatorAttachment),
    };
  }

  // ---- API calls (the React client's api.ts) -------------------------------------------------
  const TOKEN_EXPIRY_MARGIN_MS = 5 * 60 * 1000;

  function showError(message) {
    document.getElementById("error").textContent = message;
  }

  async function apiError(response) {
    let body = {};
    try {
      body = await response.json();
    } catch (error) {
      body = { detail: response.statusText };
    }
    const message = `${response.status} ${body.code}: ${body.detail}`;
    showError(body.detail);
    const error = new Error(message);
    error.status = response.status;
    error.body = body;
    return error;
  }

  function storeTokens(result) {
    localStorage.setItem("token", result.access_token);
    localStorage.setItem("refreshToken", result.refresh_token);
    // The client treats a token as expired 5 minutes before the server does.
    const expiry = Date.now() + result.expires_in * 1000 - TOKEN_EXPIRY_MARGIN_MS;
    localStorage.setItem("tokenExpiry", String(expiry));
  }

  function isTokenValid() {
    const token = localStorage.getItem("token");
    const expiry = parseInt(localStorage.getItem("tokenExpiry"));
    return Boolean(token) && Date.now() < expiry;
  }

  async function refreshToken() {
    const response = await fetch("/auth/refresh-token", {
      method: "GET",
      headers: { Authorization: `Bearer ${localStorage.getItem("refreshToken")}` },
    });
    if (!response.ok) throw await apiError(response);
    const result = await response.json();
    storeTokens(result);
    return result;
  }

  async function authHeaders() {
    if (!isTokenValid()) await refreshToken();
    return {
      "Content-Type": "application/json",
      Authorization: `Bearer ${localStorage.getItem("token")}`,
    };
  }

  async function apiJSON(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: await authHeaders(),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw await apiError(response);
    return response.json();
  }

  async function publicJSON(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await apiError(response);
    return response.json();
  }

  // ---- auth (the React client's AuthContext) -------------------------------------------------
  async function register(email) {
    const optionsJSON = await publicJSON("/auth/register/begin", { email });
    const credential = await startRegistration({ optionsJSON });
    const result = await publicJSON("/auth/register/complete", credential);
    return { options: optionsJSON, sent: credential, result };
  }

  async function login(email) {
    const optionsJSON = await publicJSON("/auth/login/begin", email ? { email } : {});
    const credential = await startAuthentication({ optionsJSON });
    const result = await publicJSON("/auth/login/complete", credential);
    storeTokens(result);
    const me = await apiJSON("GET", "/auth/me");
    return { options: optionsJSON, sent: credential, result, me, tokenValid: isTokenValid() };
  }

  // ---- streaming answers (fetch + reader, as the React client's useChatStream) ---------------
  async function readStream(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: await authHeaders(),
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await apiError(response);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const events = [];
    let buffer = "";
    let conversationId = null;
    let content = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split("\n");
      buffer = lines.pop();
      for (const line of lines) {
        if (!line.startsWith("data: ")) continue;
        const { event } = JSON.parse(line.slice(6));
        events.push(event);
        if (event.event_type === "started") conversationId = event.data.conversation_id;
        if (event.event_type === "completed") {
          content = event.data.full_content || event.data.final_response;
        }
        if (event.event_type === "error") showError(event.message);
      }
    }
    document.getElementById("answer").textContent = content;
    return {
      contentType: response.headers.get("content-type"),
      events,
      conversationId,
      content,
      finalResponse: events.at(-1)?.data?.final_response ?? null,
    };
  }

  // ---- router: the id is text in the URL, a number everywhere else ---------------------------
  const route = { name: "chat", params: {} };

  function parseRoute() {
    const match = location.hash.match(/^#\/conversations\/([^/]+)$/);
    if (match) return { name: "conversation", params: { id: decodeURIComponent(match[1]) } };
    if (location.hash === "#/health") return { name: "health", params: {} };
    return { name: "chat", params: {} };
  }

  async function onRoute() {
    Object.assign(route, parseRoute());
    document.getElementById("health").hidden = route.name !== "health";
    try {
      if (route.name === "conversation") await openConversation(route.params.id);
      if (route.name === "health") await loadHealth();
    } catch (error) {
      // The old client showed the error and stayed on the page.
      showError(error.message);
      document.getElementById(route.name).dataset.state = "failed";
    }
  }

  // ---- history and conversations -------------------------------------------------------------
  async function loadHistory() {
    const { conversations } = await apiJSON("GET", "/conversations");
    const list = document.getElementById("history");
    list.replaceChildren(
      ...conversations.map((conversation) => {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = `#/conversations/${conversation.id}`;
        link.dataset.id = conversation.id;
        link.textContent = conversation.title;
        item.append(link);
        return item;
      }),
    );
    return conversations;
  }

  async function openConversation(routeId) {
    const section = document.getElementById("conversation");
    section.dataset.state = "loading";
    const id = parseInt(routeId);
    const detail = await apiJSON("GET", `/conversations/${id}`);
    document.getElementById("conversation-title").textContent = detail.conversation.title;
    document.getElementById("messages").replaceChildren(
      ...detail.messages.map((message) => {
        const item = document.createElement("li");
        item.dataset.role = message.role;
        item.dataset.id = message.id;
        item.textContent = message.content;
        return item;
      }),
    );
    section.dataset.id = detail.conversation.id;
    section.dataset.state = "loaded";
    return { routeId, parsedId: id, detail };
  }

  async function continueConversation(question, how) {
    const id = parseInt(route.params.id);
    if (how === "number") return readStream("/ask-stream", { question, conversation_id: id });
    if (how === "string") {
      return readStream("/ask-stream", { question, conversation_id: route.params.id });
    }
    return readStream(`/conversations/${id}/messages`, { question });
  }

  async function deleteConversation() {
    const id = parseInt(route.params.id);
    const result = await apiJSON("DELETE", `/conversations/${id}`);
    location.hash = "#/";
    await loadHistory();
    return result;
  }

  // ---- health page ---------------------------------------------------------------------------
  async function loadHealth() {
    const response = await fetch("/health");
    const health = await response.json();
    const c = health.components;
    // Formatted the way the old page did; a missing key throws (undefined.toUpperCase()).
    const shown = {
      agents: c.agents_status.toUpperCase(),
      openaiClient: c.openai_client_status.toUpperCase(),
      openaiApi: c.openai_api_status.toUpperCase(),
      apiKey: c.api_key_configured ? "Configured" : "Missing",
      dataDirectory: c.data_directory_exists ? "Present" : "Missing",
      dataFiles: c.data_files_count.toLocaleString("en-US"),
      apiError: health.api_error === null ? "None" : health.api_error,
      checkedAt: new Date(health.uptime_check).toISOString(),
    };
    document.getElementById("health-keys").replaceChildren(
      ...Object.entries(shown).flatMap(([key, value]) => {
        const term = document.createElement("dt");
        term.textContent = key;
        const definition = document.createElement("dd");
        definition.dataset.key = key;
        definition.textContent = value;
        return [term, definition];
      }),
    );
    document.getElementById("health").dataset.state = "loaded";
    return { status: response.status, health, shown };
  }

  // ---- charts: plain <img> tags, no headers --------------------------------------------------
  function showImage(src) {
    return new Promise((resolve) => {
      const image = document.createElement("img");
      const done = (outcome) => () =>
        resolve({
          src,
          outcome,
          naturalWidth: image.naturalWidth,
          naturalHeight: image.naturalHeight,
        });
      image.addEventListener("load", done("load"));
      image.addEventListener("error", done("error"));
      image.alt = src;
      image.src = src;
      document.getElementById("charts").append(image);
    });
  }

  function showCo2Plot(period, start, end) {
    return showImage(`/images/co2plot_${period}_all_${start}_${end}.png`);
  }

  function imageLinks(markdown) {
    return [...new Set(markdown.match(/\/images\/[A-Za-z0-9_.-]+\.png/g) || [])];
  }

  async function showAnswerImages(markdown) {
    return Promise.all(imageLinks(markdown).map(showImage));
  }

  window.addEventListener("hashchange", onRoute);
  window.legacy = {
    register,
    login,
    isTokenValid,
    refreshToken,
    ask: (question) => readStream("/ask-stream", { question }),
    loadHistory,
    route,
    openConversation,
    continueConversation,
    deleteConversation,
    loadHealth,
    showCo2Plot,
    imageLinks,
    showAnswerImages,
  };
  document.body.dataset.ready = "true";
})();
