// Store staff screens (kitchen display, pickup screen, counter). HTMX does the polling and the
// swaps; this file adds what the server cannot: a ticking clock and elapsed times between polls,
// the new-order banner, beeps through the Web Audio API (no audio files), and small comforts.
(function () {
  "use strict";

  // --- Sound: browsers only play audio after a user gesture, hence the "Enable sound" button ---
  var audio = null;

  function soundOn() {
    return audio !== null && audio.state === "running";
  }

  function tone(frequency, start, duration) {
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.type = "square";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + duration);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(start);
    osc.stop(start + duration + 0.02);
  }

  // kind: "new" (two rising beeps), "late" (three low beeps), "ready" (one chime)
  function beep(kind) {
    if (!soundOn()) return;
    var t = audio.currentTime + 0.02;
    if (kind === "late") {
      tone(440, t, 0.25); tone(440, t + 0.35, 0.25); tone(440, t + 0.7, 0.25);
    } else if (kind === "ready") {
      tone(1046, t, 0.3);
    } else {
      tone(880, t, 0.15); tone(1175, t + 0.2, 0.2);
    }
  }

  function setupSoundButton() {
    var button = document.getElementById("sound-toggle");
    if (!button) return;
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { button.hidden = true; return; }
    var offLabel = button.textContent;
    function render() {
      var on = soundOn();
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? button.dataset.labelOn : offLabel;
    }
    button.addEventListener("click", function () {
      if (audio === null) audio = new Context();
      audio.resume().then(function () { render(); beep("ready"); });
    });
    render();
  }

  // --- Clock and elapsed times, corrected for the difference between server and tablet clocks ---
  var clockOffset = 0; // server time minus local time, in ms

  function readServerClock() {
    var board = document.querySelector("[data-board][data-now]");
    if (board) clockOffset = Number(board.dataset.now) - Date.now();
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function colourFor(minutes, prep) {
    if (minutes <= prep) return "green";
    if (minutes <= prep * 1.5) return "amber";
    return "red";
  }

  function tick() {
    var now = Date.now() + clockOffset;
    var clock = document.querySelector("[data-clock]");
    if (clock) {
      var d = new Date(now);
      clock.textContent = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    }
    var board = document.querySelector("[data-board]");
    var prep = board ? Number(board.dataset.prep) : 0;
    document.querySelectorAll("[data-paid-at]").forEach(function (ticket) {
      var seconds = Math.max(0, Math.floor((now - Number(ticket.dataset.paidAt)) / 1000));
      var label = ticket.querySelector("[data-elapsed]");
      if (label) label.textContent = pad(Math.floor(seconds / 60)) + ":" + pad(seconds % 60);
      if (prep) {
        var colour = colourFor(seconds / 60, prep);
        ["green", "amber", "red"].forEach(function (c) {
          ticket.classList.toggle("ticket--" + c, c === colour);
        });
      }
    });
  }

  // --- New tickets and tickets waiting too long ---
  var seenTickets = null; // every ticket id this screen has shown; null until the first look
  var lateAlerted = {};
  var bannerTimer = null;

  function showBanner(numbers) {
    var banner = document.getElementById("new-order-banner");
    if (!banner) return;
    banner.textContent = banner.dataset.label + ": " + numbers.join(", ");
    banner.hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(function () { banner.hidden = true; }, 8000);
  }

  function checkTickets() {
    var first = seenTickets === null;
    if (first) seenTickets = {};
    var fresh = [];
    document.querySelectorAll("[data-lane='new'] [data-ticket-id]").forEach(function (ticket) {
      if (!seenTickets[ticket.dataset.ticketId]) fresh.push(ticket.dataset.number);
    });
    document.querySelectorAll("[data-ticket-id]").forEach(function (ticket) {
      seenTickets[ticket.dataset.ticketId] = true;
    });
    if (fresh.length && !first) {
      showBanner(fresh);
      beep("new");
    }
    var alert = document.querySelector("[data-late-ids]");
    var newlyLate = false;
    if (alert) {
      alert.dataset.lateIds.split(" ").forEach(function (id) {
        if (id && !lateAlerted[id]) { lateAlerted[id] = true; newlyLate = true; }
      });
    }
    if (newlyLate) beep("late");
  }

  // --- Pickup screen: numbers that just became ready stand out for a moment ---
  var seenReady = null;

  function checkReady() {
    var numbers = document.querySelectorAll("[data-ready-number]");
    if (!document.querySelector("[data-pickup-board]")) return;
    var first = seenReady === null;
    if (first) seenReady = {};
    var any = false;
    numbers.forEach(function (el) {
      var n = el.dataset.readyNumber;
      if (!seenReady[n] && !first) { el.classList.add("fresh"); any = true; }
      seenReady[n] = true;
    });
    if (any) beep("ready");
  }

  // --- Flash messages fade after a while; the connection banner tells when polls fail ---
  function autohide(el) {
    if (!el || !el.hasAttribute("data-autohide") || !el.textContent.trim()) return;
    clearTimeout(el._hideTimer);
    el._hideTimer = setTimeout(function () { el.innerHTML = ""; }, 8000);
  }

  function connection(ok) {
    var banner = document.getElementById("connection-lost");
    if (banner) banner.hidden = ok;
  }

  // The counter's list of kiosk orders is not refreshed while somebody types a reference into it.
  window.kioskListIdle = function () {
    var list = document.getElementById("kiosk-orders");
    if (!list) return true;
    var inputs = list.querySelectorAll("input[name='reference']");
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i] === document.activeElement || inputs[i].value) return false;
    }
    return true;
  };

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (target && target.id === "kitchen-board") {
      readServerClock();
      checkTickets();
      tick();
    }
    if (target && target.id === "pickup-board") checkReady();
    if (target) autohide(target);
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    autohide(event.detail.target);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    connection(!!xhr && xhr.status > 0 && xhr.status < 500);
    var form = event.detail.elt;
    if (form && form.id === "redeem-form") {
      form.reset();
      var input = form.querySelector("input[name='pickup_code']");
      if (input) input.focus();
    }
  });
  document.addEventListener("htmx:sendError", function () { connection(false); });

  document.addEventListener("DOMContentLoaded", function () {
    setupSoundButton();
    readServerClock();
    checkTickets();
    checkReady();
    document.querySelectorAll("[data-autohide]").forEach(autohide);
    tick();
    setInterval(tick, 1000);
    // A ticket waiting too long keeps reminding, once a minute, until somebody starts it.
    setInterval(function () {
      if (document.querySelector("[data-late-ids]")) beep("late");
    }, 60000);
  });
})();
