// Starts Swagger UI on the documentation page (app/templates/swagger_ui.html). A file of
// its own, not an inline script, so the page's Content-Security-Policy allows no inline
// script: the page passes the OpenAPI document's URL and flask-smorest's
// OPENAPI_SWAGGER_UI_CONFIG in data attributes.
(function () {
  var container = document.getElementById("swagger-ui-container");
  var config = JSON.parse(container.dataset.config || "{}");
  config.url = config.url || container.dataset.specUrl;
  config.dom_id = "#swagger-ui-container";
  window.ui = window.SwaggerUIBundle(config);
})();
