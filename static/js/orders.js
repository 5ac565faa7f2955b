/* Order and payment pages: the pay-before countdown, confirm-before-cancel, no double submit.
   Everything works without it; this only makes the pages nicer. */
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-expires]").forEach(function (el) {
      var left = Math.floor((Date.parse(el.dataset.expires) - now) / 1000);
      if (isNaN(left)) { return; }
      if (left <= 0) {
        el.textContent = el.dataset.timeUp || "";
        el.classList.add("over");
        document.querySelectorAll(".pay-button, .pay-submit").forEach(function (b) {
          b.setAttribute("aria-disabled", "true");
          b.classList.add("disabled");
          if (b.tagName === "BUTTON") { b.disabled = true; }
        });
        return;
      }
      el.textContent = "(" + pad(Math.floor(left / 60)) + ":" + pad(left % 60) + ")";
      el.classList.toggle("soon", left < 120);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("data-once")) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }
  });

  // Typing a card number picks "another card".
  document.addEventListener("input", function (event) {
    if (event.target.name !== "gift_card_code") { return; }
    var other = event.target.form && event.target.form.querySelector("input[name=card][value=code]");
    if (other) { other.checked = true; }
  });

  // Back/forward cache: a page restored after submitting must be usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form[data-once][data-sent]").forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
    });
    tick();
  });

  tick();
  window.setInterval(tick, 1000);
})();
