// Store list: "Use my location" reloads the list nearest first (?lat=&lng=, keeping the city).
(function () {
  "use strict";
  var button = document.getElementById("use-location");
  var message = document.getElementById("location-message");
  if (!button || !("geolocation" in navigator)) {
    return; // the button stays hidden: the city filter still works
  }
  button.hidden = false;

  function show(text) {
    if (!message) return;
    message.textContent = text;
    message.hidden = false;
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    show(button.dataset.locating);
    navigator.geolocation.getCurrentPosition(
      function (position) {
        var url = new URL(window.location.href);
        url.searchParams.set("lat", position.coords.latitude.toFixed(6));
        url.searchParams.set("lng", position.coords.longitude.toFixed(6));
        url.searchParams.delete("page");
        var city = document.getElementById("city-select");
        if (city && city.value) {
          url.searchParams.set("city", city.value);
        } else {
          url.searchParams.delete("city");
        }
        window.location.assign(url.toString());
      },
      function (error) {
        button.disabled = false;
        show(error.code === error.PERMISSION_DENIED ? button.dataset.denied : button.dataset.unavailable);
      },
      { enableHighAccuracy: false, timeout: 10000, maximumAge: 300000 }
    );
  });
})();
