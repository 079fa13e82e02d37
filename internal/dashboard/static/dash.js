// The dashboard's live updates: every data-refresh ms, fetch this page's
// live part (<main id="live">) again and put it in place, keeping the
// failures the reader opened. Forms that change the cluster ask first.
(function () {
  "use strict";
  var main = document.getElementById("live");
  var pause = document.getElementById("pause");
  var updated = document.getElementById("updated");
  // A flash message belongs to the action that made it, not to the refreshes.
  if (location.search.indexOf("flash=") >= 0 && history.replaceState) {
    var u = new URL(location.href);
    u.searchParams.delete("flash");
    history.replaceState(null, "", u.pathname + u.search);
  }
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.classList && f.classList.contains("confirm") && !window.confirm(f.getAttribute("data-confirm"))) {
      e.preventDefault();
    }
  });
  if (!main || !main.dataset.refresh) return;
  var every = +main.dataset.refresh;
  function tick() {
    if ((pause && pause.checked) || document.hidden) {
      setTimeout(tick, every);
      return;
    }
    fetch(location.href, { headers: { "X-Shoal-Fragment": "1" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      })
      .then(function (html) {
        var open = Array.prototype.map.call(main.querySelectorAll("details[open][id]"), function (d) { return d.id; });
        main.innerHTML = html;
        open.forEach(function (id) {
          var d = document.getElementById(id);
          if (d) d.open = true;
        });
        if (updated) {
          updated.textContent = new Date().toTimeString().slice(0, 8);
          updated.classList.remove("stale");
        }
      })
      .catch(function () {
        if (updated) updated.classList.add("stale");
      })
      .then(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
