/* The item page's redeem bar: follow the SKU picker (catalog.js sets data-sku-id on it)
   so "加入购物车" and "立即兑换" send the chosen SKU, disabled when it is sold out. */
(function () {
  "use strict";

  function init() {
    var form = document.querySelector("[data-redeem-form]");
    var picker = document.querySelector("[data-sku-picker]");
    var data = document.getElementById("sku-data");
    if (!form || !data) return;
    var skus = JSON.parse(data.textContent);
    var input = form.querySelector("[data-redeem-sku]");
    var buttons = form.querySelectorAll("[data-redeem-button]");
    var short = form.hasAttribute("data-short"); // not enough points: the cart still works

    function sync() {
      var id = picker ? picker.getAttribute("data-sku-id") : input.value;
      var sku = skus.find(function (s) { return String(s.id) === String(id); });
      if (!sku) return;
      input.value = sku.id;
      buttons.forEach(function (button) {
        var out = sku.stock <= 0;
        var isBuy = button.getAttribute("data-testid") === "redeem";
        button.disabled = out || (isBuy && short);
      });
    }

    if (picker) {
      new MutationObserver(sync).observe(picker, { attributes: true, attributeFilter: ["data-sku-id"] });
    }
    sync();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
