// T deal's merchant picker: the filter box hides rows (every checked box is still sent), the count follows.
(function () {
  "use strict";
  document.querySelectorAll("[data-tdeal-picker]").forEach(function (box) {
    var filter = box.querySelector("[data-picker-filter]");
    var count = box.querySelector("[data-picker-count]");
    var rows = box.querySelectorAll("[data-picker-text]");
    if (filter) {
      filter.addEventListener("input", function () {
        var q = filter.value.trim().toLowerCase().replace(/-/g, "");
        rows.forEach(function (row) {
          var hide = q !== "" && row.dataset.pickerText.replace(/-/g, "").indexOf(q) < 0;
          row.style.display = hide ? "none" : "block";
        });
      });
      filter.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); } });
    }
    box.addEventListener("change", function () {
      if (count) { count.textContent = box.querySelectorAll("input[name=merchant_ids]:checked").length; }
    });
  });
})();
