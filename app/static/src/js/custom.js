/* Bastion's own scripts, merged and minified into dist/custom-<hash>.min.js.
 * No inline scripts anywhere: the CSP allows only files from this site. */
(function () {
  "use strict";

  // Show how many characters are left in fields that have a maxlength.
  function attachCounter(field) {
    var max = parseInt(field.getAttribute("maxlength"), 10);
    if (!max || field.tagName !== "TEXTAREA") {
      return;
    }
    var counter = document.createElement("div");
    counter.className = "form-text text-end char-counter";
    counter.setAttribute("aria-live", "polite");
    field.insertAdjacentElement("afterend", counter);
    function update() {
      counter.textContent = (max - field.value.length) + " characters left";
    }
    field.addEventListener("input", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[maxlength]").forEach(attachCounter);
  });
})();
