// The request form's preview: what comes back for the ticked lines (the server decides the
// exact amounts from what each line paid; this mirrors it per unit). Exchanges refund nothing.
(function () {
  function money(value) { return value.toFixed(2); }
  function update(form) {
    var kind = form.querySelector("input[name=kind]:checked");
    var out = form.querySelector("[data-preview]");
    if (!out) return;
    if (kind && kind.value === "exchange") { out.textContent = "—"; return; }
    var points = 0, cash = 0;
    form.querySelectorAll(".as-line").forEach(function (row) {
      var box = row.querySelector("input[type=checkbox]");
      var qty = parseInt((row.querySelector(".as-qty") || {}).value || "0", 10);
      if (!box || !box.checked || !(qty > 0)) return;
      points += parseInt(row.dataset.unitPoints, 10) * qty;
      cash += parseFloat(row.dataset.unitCash) * qty;
    });
    var text = points.toLocaleString() + " " + (form.dataset.pointsLabel || "");
    if (cash > 0) text += " + ¥" + money(cash);
    out.textContent = text;
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-aftersale-form]").forEach(function (form) {
      form.addEventListener("input", function () { update(form); });
      form.addEventListener("change", function () { update(form); });
      update(form);
    });
  });
})();
