// The copy buttons of a card's page. The page works without this file: the code is in a
// read-only field that can be selected and copied by hand.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (!copy) return;
    var input = document.querySelector(copy.getAttribute("data-copy"));
    if (!input) return;
    var status = copy.parentElement.nextElementSibling;
    input.select();
    var done = function () {
      if (status && status.classList.contains("copy-status")) {
        status.textContent = copy.getAttribute("data-copied");
      }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        document.execCommand("copy") && done();
      });
    } else if (document.execCommand("copy")) {
      done();
    }
  });
})();
