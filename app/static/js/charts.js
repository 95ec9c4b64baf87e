/* Draws every <canvas data-chart="bar|line" data-datasets> from its data-labels and data-datasets ({label, data,
   colour?, type?, interval?}), on load and after each HTMX swap. Each canvas is drawn once (data-drawn).
   Value axes start at zero, so a bar's length stays honest. A dataset with "interval": true holds [low, high]
   pairs and is drawn as a range (a thin floating bar, like an error bar); a dataset with "type": "point" is
   drawn as markers only (an estimate inside its interval). */
(function () {
  var colours = ["#1f5fbf", "#e5222c", "#2e9d5b", "#f0a202", "#7a4fb3", "#888", "#00a0b0", "#b05f00", "#e6007e", "#555"];
  function dataset(canvas, d, i) {
    var c = d.colour || colours[i % colours.length];
    if (d.interval) {
      return { label: d.label, data: d.data, type: "bar", backgroundColor: c + "55", borderColor: c, borderWidth: 1,
               barPercentage: 0.25, categoryPercentage: 1, grouped: false, order: 2 };
    }
    if (d.type === "point") {
      return { label: d.label, data: d.data, type: "line", showLine: false, pointRadius: 5, pointHoverRadius: 6,
               backgroundColor: c, borderColor: c, order: 1 };
    }
    return { label: d.label, data: d.data, backgroundColor: c, borderColor: c, type: d.type || undefined,
             pointRadius: canvas.dataset.chart === "line" ? 0 : 2, tension: 0.2, spanGaps: true };
  }
  function draw() {
    if (typeof Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-chart][data-datasets]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      canvas.dataset.drawn = "1";
      var sets = JSON.parse(canvas.dataset.datasets || "[]").map(function (d, i) { return dataset(canvas, d, i); });
      var horizontal = canvas.dataset.horizontal === "1";
      var value = { beginAtZero: true, ticks: { callback: function (v) { return Number(v).toLocaleString("ko-KR"); } } };
      new Chart(canvas, { type: canvas.dataset.chart,
        data: { labels: JSON.parse(canvas.dataset.labels || "[]"), datasets: sets },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   indexAxis: horizontal ? "y" : "x", scales: horizontal ? { x: value } : { y: value } } });
    });
  }
  window.addEventListener("load", draw);
  document.addEventListener("htmx:afterSwap", draw);
})();
