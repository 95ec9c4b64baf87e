// CCTV statistics: incidents per day and type (stacked bars) and response times, from data attributes.
window.addEventListener("load", function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  var colours = {fire: "#c62828", smoke: "#757575", fall: "#6a1b9a", illegal_parking: "#f9a825", loitering: "#1565c0", intrusion: "#00838f", crowd: "#2e7d32"};
  var perDay = document.getElementById("per-day");
  if (perDay) {
    var series = JSON.parse(perDay.dataset.series);
    new Chart(perDay, { type: "bar", data: { labels: JSON.parse(perDay.dataset.days),
      datasets: series.map(function (s) { return { label: s.label, data: s.values, backgroundColor: colours[s.type] || "#90a4ae" }; }) },
      options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } } });
  }
  var response = document.getElementById("response");
  if (response) {
    var d = response.dataset, rows = JSON.parse(d.rows);
    function minutes(key) { return rows.map(function (r) { return r[key] === null ? null : r[key] / 60; }); }
    new Chart(response, { type: "bar", data: { labels: JSON.parse(d.labels),
      datasets: [{ label: d.ackLabel, data: minutes("median_ack_s"), backgroundColor: "#1f5fbf" },
                 { label: d.resolveLabel, data: minutes("median_resolve_s"), backgroundColor: "#2e9d5b" }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false } });
  }
});
