// Starts Redoc at /redoc. An external script (the page's CSP runs no inline script). Redoc
// styles itself with <style> elements; the per-response nonce on the container is the one
// the page's CSP admits for them (style-src 'self' 'nonce-…').
/* global Redoc */
const container = document.getElementById("redoc");
Redoc.init(
  container.dataset.specUrl,
  { nonce: container.dataset.styleNonce, hideDownloadButton: false },
  container,
);
