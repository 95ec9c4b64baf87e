// A robot site's live screen: panels reload (through HTMX) shortly after the server announces a change.
// Loaded with defer, after dxhub.js (its live indicator).
(function () {
  "use strict";
  var panels = document.getElementById("panels");
  if (!panels || !window.EventSource) { return; }
  var pending = null;
  function refresh() {
    if (pending) { return; }
    pending = setTimeout(function () { pending = null; if (window.htmx) { htmx.trigger(panels, "robots-changed"); } }, 700);
  }
  var source = new EventSource(panels.dataset.streamUrl);
  window.dxhub.watchLive(source, document.getElementById("live-state"));
  ["robots", "task", "alert"].forEach(function (name) { source.addEventListener(name, refresh); });
})();
