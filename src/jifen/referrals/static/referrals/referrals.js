// Copy and share buttons of the invite page. The page works without this file (the link
// is in a read-only field that can be selected and copied by hand).
(function () {
  "use strict";
  function status(text) {
    var box = document.querySelector(".copy-status");
    if (box) box.textContent = text;
  }
  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var input = document.querySelector(copy.getAttribute("data-copy"));
      if (!input) return;
      input.select();
      var done = function () { status(copy.getAttribute("data-copied")); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          document.execCommand("copy") && done();
        });
      } else if (document.execCommand("copy")) {
        done();
      }
      return;
    }
    var share = event.target.closest("[data-share]");
    if (share && navigator.share) {
      navigator.share({
        title: share.getAttribute("data-share-title"),
        text: share.getAttribute("data-share-text"),
        url: share.getAttribute("data-share-url"),
      }).catch(function () {});
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (navigator.share) {
      document.querySelectorAll("[data-share]").forEach(function (button) {
        button.hidden = false;
      });
    }
  });
})();
