// Worknet usage: sign-ins per day (stacked bars) and users (line), from the canvas's data attributes.
window.addEventListener("load", function () {
  "use strict";
  var canvas = document.getElementById("worknet-usage-chart");
  if (!canvas || typeof Chart === "undefined") { return; }
  var d = canvas.dataset, names = JSON.parse(d.names);
  new Chart(canvas, {
    data: { labels: JSON.parse(d.labels), datasets: [
      { type: "bar", label: names[0], data: JSON.parse(d.successes), backgroundColor: "#1f5fbf", stack: "s" },
      { type: "bar", label: names[1], data: JSON.parse(d.failures), backgroundColor: "#d9534f", stack: "s" },
      { type: "line", label: names[2], data: JSON.parse(d.users), borderColor: "#2e9d5b", yAxisID: "y" }
    ] },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
               scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
  });
});
