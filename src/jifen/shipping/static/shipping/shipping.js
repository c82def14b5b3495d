// The copy button of the tracking number. The page works without this file (the number is
// in a read-only field that can be selected and copied by hand).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-ship-copy]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-ship-copy"));
    if (!input) return;
    var card = button.closest(".ship-card");
    var done = function () {
      var box = card && card.querySelector(".ship-copy-status");
      if (box) box.textContent = button.getAttribute("data-copied");
    };
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        document.execCommand("copy") && done();
      });
    } else if (document.execCommand("copy")) {
      done();
    }
  });
})();
