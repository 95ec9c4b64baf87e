// Worknet alerts: shows the "new alerts" notice when the server announces one (server-sent events).
(function () {
  "use strict";
  var notice = document.getElementById("worknet-live");
  if (!notice || !window.EventSource) { return; }
  var source = new EventSource(notice.dataset.streamUrl);
  window.dxhub.watchLive(source, document.getElementById("live-state"));  // dxhub.js loads first (defer)
  source.addEventListener("worknet-alerts", function () { notice.hidden = false; });
})();
