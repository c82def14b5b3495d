/* The item page: image gallery and the spec / SKU picker. Works without it: the page
   shows the cheapest SKU's price and the item's stock. */
(function () {
  "use strict";

  function money(value, currency) {
    var symbols = { CNY: "¥", USD: "$", EUR: "€", HKD: "HK$" };
    var amount = Number(value).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return symbols[currency] ? symbols[currency] + amount : amount + " " + currency;
  }

  function picker() {
    var root = document.querySelector("[data-sku-picker]");
    var data = document.getElementById("sku-data");
    if (!root || !data) return;
    var skus = JSON.parse(data.textContent);
    var currency = root.getAttribute("data-currency") || "CNY";

    function selected() {
      var chosen = {};
      root.querySelectorAll("input[type=radio]:checked").forEach(function (input) {
        chosen[input.getAttribute("data-spec")] = input.value;
      });
      return chosen;
    }

    function matches(sku, chosen) {
      return Object.keys(chosen).every(function (name) {
        return sku.options[name] === chosen[name];
      });
    }

    function update() {
      var chosen = selected();
      var sku = skus.find(function (s) { return matches(s, chosen); });
      // Values whose combination (with the other choices) has no SKU or no stock are dimmed.
      root.querySelectorAll("input[type=radio]").forEach(function (input) {
        var trial = Object.assign({}, chosen);
        trial[input.getAttribute("data-spec")] = input.value;
        var other = skus.find(function (s) { return matches(s, trial); });
        input.parentElement.classList.toggle("is-out", !other || other.stock <= 0);
      });
      document.querySelectorAll("[data-stock]").forEach(function (el) {
        el.textContent = sku ? sku.stock.toLocaleString() : "0";
      });
      if (!sku) return;
      document.querySelectorAll("[data-price-points]").forEach(function (el) {
        el.textContent = sku.points.toLocaleString();
      });
      document.querySelectorAll("[data-price-cash]").forEach(function (el) {
        el.hidden = Number(sku.cash) <= 0;
      });
      document.querySelectorAll("[data-cash-value]").forEach(function (el) {
        el.textContent = money(sku.cash, currency);
      });
      root.setAttribute("data-sku-id", sku.id);
    }

    root.addEventListener("change", update);
    // Start on the first SKU in stock.
    var first = skus.find(function (s) { return s.stock > 0; }) || skus[0];
    if (first) {
      Object.keys(first.options).forEach(function (name) {
        root.querySelectorAll("input[type=radio]").forEach(function (input) {
          if (input.getAttribute("data-spec") === name && input.value === first.options[name]) {
            input.checked = true;
          }
        });
      });
    }
    update();
  }

  function gallery() {
    var track = document.querySelector("[data-gallery-track]");
    if (!track) return;
    var index = document.querySelector("[data-gallery-index]");
    var thumbs = document.querySelectorAll("[data-gallery-thumb]");
    function current() {
      return Math.round(track.scrollLeft / Math.max(1, track.clientWidth));
    }
    track.addEventListener("scroll", function () {
      var i = current();
      if (index) index.textContent = String(i + 1);
      thumbs.forEach(function (thumb, n) {
        if (n === i) thumb.setAttribute("aria-current", "true");
        else thumb.removeAttribute("aria-current");
      });
    }, { passive: true });
    thumbs.forEach(function (thumb) {
      thumb.addEventListener("click", function () {
        var n = Number(thumb.getAttribute("data-gallery-thumb"));
        track.scrollTo({ left: n * track.clientWidth, behavior: "smooth" });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    picker();
    gallery();
  });
})();
