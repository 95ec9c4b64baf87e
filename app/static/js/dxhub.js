// Small behaviours shared by every page: confirmations, KPI charts, live-region helpers.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  function drawLineCharts() {
    if (typeof Chart === "undefined") { return; }
    document.querySelectorAll("canvas.kpi-chart, canvas[data-chart='line']").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      canvas.dataset.drawn = "1";
      var labels = JSON.parse(canvas.dataset.labels || "[]");
      var values = JSON.parse(canvas.dataset.values || "[]");
      var datasets = [{ label: canvas.dataset.name || "", data: values, borderColor: "#1f5fbf", tension: 0.2 }];
      if (canvas.dataset.target) {
        var target = parseFloat(canvas.dataset.target);
        datasets.push({ label: "target", data: labels.map(function () { return target; }),
                        borderColor: "#2e9d5b", borderDash: [6, 4], pointRadius: 0 });
      }
      new Chart(canvas, { type: "line", data: { labels: labels, datasets: datasets },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   plugins: { legend: { display: false } } } });
    });
  }

  window.dxhub = { drawLineCharts: drawLineCharts };
  window.addEventListener("load", drawLineCharts);
  document.addEventListener("htmx:afterSwap", drawLineCharts);
})();
