// Small behaviours shared by every page: confirmations, print buttons, per-response sizes and colours,
// KPI charts. The Content-Security-Policy allows no inline script, handler or style attribute, so pages say
// what they need in data attributes and this file acts on them (on load and on every HTMX swap).
(function () {
  "use strict";

  // Scripts run: the phone layout may fold the menu behind its button (without them the menu stays open).
  document.documentElement.classList.remove("no-js");
  document.documentElement.classList.add("js");

  function setMenu(button, open) {
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) { return; }
    button.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".menu-toggle");
    if (button) { setMenu(button, button.getAttribute("aria-expanded") !== "true"); }
  });
  document.addEventListener("keydown", function (event) {
    // Escape closes the open menu and gives the focus back to its button.
    if (event.key !== "Escape") { return; }
    var button = document.querySelector(".menu-toggle[aria-expanded='true']");
    if (button) { setMenu(button, false); button.focus(); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) { window.print(); }
  });

  // Sizes and colours that differ per response, set through the CSSOM (which the policy allows). Values
  // are checked so that an attribute can only ever carry a number or a colour.
  var COLOUR = /^(#[0-9a-fA-F]{3,8}|rgba?\(\s*[\d.]+\s*,\s*[\d.]+\s*,\s*[\d.]+\s*(,\s*[\d.]+\s*)?\))$/;
  function number(value) { var n = parseFloat(value); return isFinite(n) ? n : null; }
  function each(root, selector, apply) {
    if (root.matches && root.matches(selector)) { apply(root); }
    if (root.querySelectorAll) { root.querySelectorAll(selector).forEach(apply); }
  }
  function applyData(root) {
    each(root, "[data-bar]", function (el) {
      var n = number(el.dataset.bar);
      if (n !== null) { el.style.width = Math.max(0, Math.min(100, n)) + "%"; }
    });
    each(root, "[data-h]", function (el) { var n = number(el.dataset.h); if (n !== null) { el.style.height = n + "px"; } });
    each(root, "[data-maxw]", function (el) {
      var n = number(el.dataset.maxw);
      if (n !== null) { el.style.maxWidth = n + "px"; }
    });
    each(root, "[data-bg]", function (el) { if (COLOUR.test(el.dataset.bg)) { el.style.background = el.dataset.bg; } });
  }
  applyData(document);

  // A box that scrolls sideways (a wide table on a phone) takes the keyboard's focus, so it can be scrolled
  // without a mouse; it is named after its caption or the section's heading.
  function focusScrollers() {
    document.querySelectorAll(".table, .scroll-x, .table-wrap").forEach(function (el) {
      var scrolls = el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "visible";
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
        el.dataset.scroller = "1";
        if (!el.hasAttribute("aria-label")) {
          var heading = el.closest("section, .card");
          heading = heading && heading.querySelector("h2, h3");
          if (heading) {
            el.setAttribute("aria-label", heading.textContent.trim());
            if (el.tagName !== "TABLE") { el.setAttribute("role", "region"); }
          }
        }
      } else if (!scrolls && el.dataset.scroller) {
        el.removeAttribute("tabindex");
        delete el.dataset.scroller;
      }
    });
  }
  focusScrollers();
  window.addEventListener("load", focusScrollers);
  window.addEventListener("resize", focusScrollers);
  document.addEventListener("htmx:afterSwap", focusScrollers);
  document.addEventListener("htmx:load", function (event) {
    applyData(event.target);
    // A swapped-in fragment that says its work is over (an import's progress) reloads the page around it.
    if (event.target !== document.body) { each(event.target, "[data-reload]", function () { window.location.reload(); }); }
  });

  function drawLineCharts() {
    if (typeof Chart === "undefined") { return; }
    // One series in data-values (a KPI's history, a robot's battery); charts with data-datasets are charts.js's.
    document.querySelectorAll("canvas.kpi-chart, canvas[data-chart='line'][data-values]").forEach(function (canvas) {
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
        // The value axis starts at zero: a KPI moving from 96 to 98 is not drawn as a leap.
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   scales: { y: { beginAtZero: true } }, plugins: { legend: { display: false } } } });
    });
  }

  // The live indicator (macros/ui.html live_indicator): its dot is green ("on") while the stream is open.
  function showLive(indicator, state) {
    if (!indicator) { return; }
    var dot = indicator.querySelector(".live-dot"), label = indicator.querySelector(".live-label");
    if (dot) { dot.classList.toggle("on", state === "live"); }
    if (label && indicator.dataset[state]) { label.textContent = indicator.dataset[state]; }
    indicator.dataset.state = state;
  }
  // A page's own EventSource: the indicator follows its opening and its losses.
  function watchLive(source, indicator) {
    source.addEventListener("open", function () { showLive(indicator, "live"); });
    source.addEventListener("error", function () { showLive(indicator, "reconnecting"); });
  }
  // A stream HTMX opens (sse-connect): the indicator inside the element that holds it.
  function indicatorIn(element) { return element && element.querySelector && element.querySelector(".live-indicator"); }
  document.addEventListener("htmx:sseOpen", function (event) { showLive(indicatorIn(event.target), "live"); });
  document.addEventListener("htmx:sseError", function (event) { showLive(indicatorIn(event.target), "reconnecting"); });
  if (!window.EventSource) {
    document.querySelectorAll(".live-indicator").forEach(function (el) { showLive(el, "unsupported"); });
  }

  window.dxhub = { drawLineCharts: drawLineCharts, watchLive: watchLive };
  window.addEventListener("load", drawLineCharts);
  document.addEventListener("htmx:afterSwap", drawLineCharts);
})();
