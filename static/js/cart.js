// Ordering pages. Everything here is an enhancement: without it the forms still post and redirect.
// - checkout: "Use my location" fills the hidden latitude/longitude fields;
// - forms marked data-once: submit buttons are disabled after the first submit (the server is
//   idempotent anyway: the form token returns the same order);
// - kiosk: category tabs show one category at a time; the end screen goes back to the menu;
// - dietary confirm box (a dish that does not suit you): "Cancel" closes it in place.
(function () {
  "use strict";

  // Use my location (checkout, delivery)
  var locate = document.getElementById("use-location");
  if (locate && "geolocation" in navigator) {
    var status = document.getElementById("location-status");
    var lat = document.querySelector("input[name='latitude']");
    var lng = document.querySelector("input[name='longitude']");
    var say = function (text) { if (status) status.textContent = text; };
    locate.hidden = false;
    locate.addEventListener("click", function () {
      locate.disabled = true;
      say(locate.dataset.locating);
      navigator.geolocation.getCurrentPosition(
        function (position) {
          lat.value = position.coords.latitude.toFixed(6);
          lng.value = position.coords.longitude.toFixed(6);
          locate.disabled = false;
          say(locate.dataset.located);
        },
        function (error) {
          locate.disabled = false;
          say(error.code === error.PERMISSION_DENIED ? locate.dataset.denied : locate.dataset.unavailable);
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }

  // One submit per form (after the browser has collected the pressed button's name and value)
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      window.setTimeout(function () {
        form.querySelectorAll("button[type='submit']").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });

  // Dietary confirm box: Cancel closes it (without JavaScript the link reloads the menu).
  // Delegated, because the box arrives with an HTMX swap.
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest ? event.target.closest("[data-dismiss-confirm]") : null;
    if (!cancel) return;
    var box = cancel.closest("[data-confirm]");
    if (box) {
      event.preventDefault();
      box.remove();
    }
  });

  // Kiosk category tabs
  var tabs = Array.prototype.slice.call(document.querySelectorAll("[data-tab]"));
  var panels = Array.prototype.slice.call(document.querySelectorAll("[data-panel]"));
  if (tabs.length && panels.length) {
    var show = function (id) {
      panels.forEach(function (panel) { panel.hidden = panel.id !== id; });
      tabs.forEach(function (tab) { tab.setAttribute("aria-selected", String(tab.dataset.tab === id)); });
      window.scrollTo({ top: 0 });
    };
    tabs.forEach(function (tab) {
      tab.setAttribute("role", "tab");
      tab.addEventListener("click", function (event) {
        event.preventDefault();
        show(tab.dataset.tab);
      });
    });
    show(tabs[0].dataset.tab);
  }

  // Kiosk end screen: back to the menu (the meta refresh does the same without JavaScript)
  var countdown = document.querySelector("[data-countdown]");
  if (countdown) {
    var seconds = parseInt(countdown.dataset.countdown, 10) || 60;
    window.setTimeout(function () { window.location.assign(countdown.dataset.href); }, seconds * 1000);
  }
})();
