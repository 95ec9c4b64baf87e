// A robot site's live screen: panels reload (through HTMX) shortly after the server announces a change.
(function () {
  "use strict";
  var panels = document.getElementById("panels");
  var dot = document.getElementById("live-dot"), label = document.getElementById("live-state");
  if (!panels || !window.EventSource) { return; }
  var pending = null;
  function refresh() {
    if (pending) { return; }
    pending = setTimeout(function () { pending = null; if (window.htmx) { htmx.trigger(panels, "robots-changed"); } }, 700);
  }
  var source = new EventSource(panels.dataset.streamUrl);
  source.onopen = function () { dot.classList.add("on"); label.textContent = label.dataset.live; };
  source.onerror = function () { dot.classList.remove("on"); label.textContent = label.dataset.reconnecting; };
  ["robots", "task", "alert"].forEach(function (name) { source.addEventListener(name, refresh); });
})();
