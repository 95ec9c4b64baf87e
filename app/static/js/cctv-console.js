// The CCTV control centre: incident rows reload on every server-sent change, urgent ones beep (unless
// muted). Texts and the stream's URL come from data attributes of #sound-toggle and #incident-rows; the
// live indicator (#live-state) is dxhub.js's, which loads first (both are deferred).
(function () {
  "use strict";
  var rows = document.getElementById("incident-rows");
  var state = document.getElementById("live-state");
  var toggle = document.getElementById("sound-toggle");
  if (!rows || !state || !toggle) { return; }
  var text = toggle.dataset;
  var muted = localStorage.getItem("cctv-muted") === "1";
  var audio = null;
  function showToggle() { toggle.textContent = muted ? text.soundOff : text.soundOn; toggle.setAttribute("aria-pressed", muted ? "true" : "false"); }
  showToggle();
  toggle.addEventListener("click", function () {
    muted = !muted;
    localStorage.setItem("cctv-muted", muted ? "1" : "0");
    showToggle();
    if (!muted) { beep(); }  // a click lets the browser start audio
  });
  // A generated two-tone beep: no audio files to ship.
  function beep() {
    if (muted) { return; }
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") { audio.resume(); }
      [0, 0.45].forEach(function (offset, i) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = "square";
        osc.frequency.value = i ? 660 : 880;
        gain.gain.value = 0.06;
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(audio.currentTime + offset);
        osc.stop(audio.currentTime + offset + 0.35);
      });
    } catch (e) { /* no audio on this device */ }
  }
  function reload(highlightId) {
    var url = rows.dataset.rowsUrl + window.location.search;
    htmx.ajax("GET", url, { target: "#incident-rows", swap: "innerHTML" }).then(function () {
      if (highlightId) {
        var row = document.getElementById("incident-" + highlightId);
        if (row) { row.classList.add("cctv-flash"); }
      }
    });
  }
  var timer = null;
  if (!window.EventSource) { return; }  // the indicator says so
  var source = new EventSource(rows.dataset.streamUrl);
  window.dxhub.watchLive(source, state);
  function onIncident(ev) {
    var msg = JSON.parse(ev.data);
    if (msg.urgent && (msg.change === "opened" || msg.change === "escalated")) { beep(); }
    clearTimeout(timer);
    timer = setTimeout(function () { reload(msg.id); }, 250);
  }
  source.addEventListener("incident", onIncident);
  source.addEventListener("snapshot", onIncident);
  source.addEventListener("camera", function () { reload(null); });
})();
