// Starts Swagger UI at /docs. An external script (the page's CSP runs no inline script): the
// spec URL comes from the container's data attribute, the spec itself from /openapi.json.
/* global SwaggerUIBundle, SwaggerUIStandalonePreset */
const container = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: container.dataset.specUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // the default badge loads an image from validator.swagger.io
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: "BaseLayout",
});
