/* Draws every <canvas data-chart="bar|line"> from its data-labels and data-datasets ({label, data,
   colour?, type?}), on load and after each HTMX swap. Each canvas is drawn once (data-drawn). */
(function () {
  var colours = ["#1f5fbf", "#e5222c", "#2e9d5b", "#f0a202", "#7a4fb3", "#888", "#00a0b0", "#b05f00", "#e6007e", "#555"];
  function draw() {
    if (typeof Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      canvas.dataset.drawn = "1";
      var sets = JSON.parse(canvas.dataset.datasets || "[]").map(function (d, i) {
        var c = d.colour || colours[i % colours.length];
        return { label: d.label, data: d.data, backgroundColor: c, borderColor: c, type: d.type || undefined,
                 pointRadius: canvas.dataset.chart === "line" ? 0 : 2, tension: 0.2, spanGaps: true };
      });
      new Chart(canvas, { type: canvas.dataset.chart,
        data: { labels: JSON.parse(canvas.dataset.labels || "[]"), datasets: sets },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   indexAxis: canvas.dataset.horizontal === "1" ? "y" : "x" } });
    });
  }
  window.addEventListener("load", draw);
  document.addEventListener("htmx:afterSwap", draw);
})();
