/* The item page's redeem bar: follow the SKU picker (catalog.js sets data-sku-id on it)
   so "加入购物车" and "立即兑换" send the chosen SKU; when that SKU is sold out (or the
   member is short of points, for 立即兑换) the buttons are disabled and the note under the
   bar says why. The − / + buttons step the quantity within 1..max. */
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
    var note = document.querySelector("[data-testid=redeem-note]");
    var noteText = note && note.querySelector("[data-note-text]");
    var quantity = document.getElementById("redeem-quantity");
    var limit = quantity ? parseInt(quantity.getAttribute("max"), 10) || 99 : 99;

    function clamp() {
      if (!quantity) return;
      var max = parseInt(quantity.max, 10) || limit;
      var value = parseInt(quantity.value, 10) || 1;
      quantity.value = Math.min(Math.max(value, 1), Math.max(max, 1));
      document.querySelectorAll("[data-qty-step]").forEach(function (button) {
        var step = parseInt(button.getAttribute("data-qty-step"), 10);
        var next = parseInt(quantity.value, 10) + step;
        button.disabled = next < 1 || next > max;
      });
    }

    function sync() {
      var id = picker ? picker.getAttribute("data-sku-id") : input.value;
      var sku = skus.find(function (s) { return String(s.id) === String(id); });
      if (!sku) return;
      input.value = sku.id;
      var out = sku.stock <= 0;
      buttons.forEach(function (button) {
        var isBuy = button.getAttribute("data-testid") === "redeem";
        button.disabled = out || (isBuy && short);
        if (isBuy) {
          button.textContent = out ? form.dataset.soldoutLabel : form.dataset.buyLabel;
        }
      });
      if (quantity && sku.stock > 0) quantity.max = Math.min(limit, sku.stock);
      if (noteText) {
        var reason = out ? note.dataset.noteSoldout : short ? note.dataset.noteShort : "";
        noteText.textContent = reason || note.dataset.noteOk;
        noteText.classList.toggle("mall-redeem-reason", Boolean(reason));
      }
      clamp();
    }

    document.querySelectorAll("[data-qty-step]").forEach(function (button) {
      button.addEventListener("click", function () {
        quantity.value = (parseInt(quantity.value, 10) || 1) + parseInt(button.getAttribute("data-qty-step"), 10);
        clamp();
      });
    });
    if (quantity) quantity.addEventListener("change", clamp);
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
