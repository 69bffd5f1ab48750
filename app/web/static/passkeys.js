// Passkey ceremonies (WebAuthn) against /auth/register/* and /auth/login/*.
//
// The service sends the options JSON at top level. Browsers that have the WebAuthn Level 3 JSON
// helpers (PublicKeyCredential.parse*OptionsFromJSON, credential.toJSON) use them; others get
// the same conversion by hand (base64url <-> ArrayBuffer).

export function b64urlToBuffer(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "===".slice((base64.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
}

export function bufferToB64url(buffer) {
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function webauthnSupported() {
  return (
    typeof window.PublicKeyCredential === "function" &&
    typeof navigator.credentials?.create === "function" &&
    window.isSecureContext
  );
}

export async function conditionalMediationAvailable() {
  if (!webauthnSupported()) return false;
  try {
    return (await PublicKeyCredential.isConditionalMediationAvailable?.()) === true;
  } catch {
    return false;
  }
}

function withIds(list) {
  return (list ?? []).map((c) => ({ ...c, id: b64urlToBuffer(c.id) }));
}

export function creationOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: b64urlToBuffer(json.challenge),
    user: { ...json.user, id: b64urlToBuffer(json.user.id) },
    excludeCredentials: withIds(json.excludeCredentials),
  };
}

export function requestOptions(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: b64urlToBuffer(json.challenge),
    allowCredentials: withIds(json.allowCredentials),
  };
}

export function credentialToJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const r = credential.response;
  const base = {
    id: credential.id,
    rawId: bufferToB64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
  if (r.attestationObject) {
    return {
      ...base,
      response: {
        clientDataJSON: bufferToB64url(r.clientDataJSON),
        attestationObject: bufferToB64url(r.attestationObject),
        transports: typeof r.getTransports === "function" ? r.getTransports() : [],
      },
    };
  }
  return {
    ...base,
    response: {
      clientDataJSON: bufferToB64url(r.clientDataJSON),
      authenticatorData: bufferToB64url(r.authenticatorData),
      signature: bufferToB64url(r.signature),
      userHandle: r.userHandle ? bufferToB64url(r.userHandle) : null,
    },
  };
}

/** Create a passkey for a new account. Resolves with the service's JSON ({message, user_id}). */
export async function registerPasskey(api, email) {
  const options = await api.json("POST", "/auth/register/begin", { body: { email }, auth: false });
  const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
  return api.json("POST", "/auth/register/complete", {
    body: credentialToJSON(credential),
    auth: false,
  });
}

/**
 * Sign in with a passkey and adopt the tokens. Without an email the browser offers the
 * discoverable passkeys it has for this site (usernameless). With mediation "conditional" the
 * request waits for the user to pick a passkey from the email field's autofill.
 */
export async function signInWithPasskey(api, email, { mediation, signal } = {}) {
  const body = email ? { email } : {};
  const options = await api.json("POST", "/auth/login/begin", { body, auth: false, signal });
  const request = { publicKey: requestOptions(options), signal };
  if (mediation) request.mediation = mediation;
  const credential = await navigator.credentials.get(request);
  const tokens = await api.json("POST", "/auth/login/complete", {
    body: credentialToJSON(credential),
    auth: false,
  });
  api.setTokens(tokens);
  api.setUser(tokens.user);
  return tokens.user;
}

/** A sentence a person can act on, for any failure of a ceremony. */
export function describePasskeyError(error) {
  switch (error?.name) {
    case "NotAllowedError":
      return "The passkey request was cancelled or timed out. Try again when you are ready.";
    case "InvalidStateError":
      return "This device already has a passkey for this account. Sign in with it instead.";
    case "SecurityError":
      return "This page's address cannot use passkeys. Open it as http://localhost:PORT or over HTTPS.";
    case "NotSupportedError":
      return "This browser or device cannot create a suitable passkey.";
    case "AbortError":
      return "The passkey request was interrupted.";
    case "ApiError":
      return error.detail;
    case "TypeError":
      return `Could not reach the service (${error.message}).`;
    default:
      return error?.message ? String(error.message) : "The passkey ceremony failed.";
  }
}
