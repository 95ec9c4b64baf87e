// Voicebot statistics: handoff reasons and turns per call, each canvas drawn from its data-labels,
// data-values and data-name (lists, not an object: a JSON object's keys would be sorted).
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  ["vb-handoffs", "vb-turns"].forEach(function (id) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    var d = canvas.dataset;
    new Chart(canvas, { type: "bar",
      data: { labels: JSON.parse(d.labels), datasets: [{ label: d.name, data: JSON.parse(d.values) }] },
      options: { plugins: { legend: { display: false } } } });
  });
})();
