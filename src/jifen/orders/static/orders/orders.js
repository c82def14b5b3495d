/* Cart helper (the page works without it): a quantity typed into the cart is saved when the
   field changes, so the "更新" button hides. (Forms marked data-once are handled by
   web/jifen.js: one request however often they are tapped.) */
(function () {
  "use strict";

  function init() {
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      var input = form.querySelector("input[type=number]");
      var apply = form.querySelector(".qty-apply");
      if (!input) return;
      if (apply) apply.style.display = "none"; // .btn sets display, which beats [hidden]
      input.addEventListener("change", function () {
        if (input.value && input.checkValidity()) form.requestSubmit();
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
