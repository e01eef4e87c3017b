// Starts Swagger UI on #swagger-ui with the OpenAPI document named by its data-url.
// A static file (not inline) so that the page needs no 'unsafe-inline' in its CSP.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-url"),
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    validatorUrl: null,
    withCredentials: true,
  });
})();
