/* Draws each report chart from the JSON beside it (Django's json_script), with the
   vendored Chart.js. Horizontal bars, so long names stay readable on a phone. Without
   JavaScript the charts stay hidden and the tables carry every figure. */
(function () {
  "use strict";
  if (!window.Chart) {
    return;
  }
  // Okabe–Ito colours: told apart with the common colour-vision deficiencies.
  var COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442"];
  // Label length the chart's width allows: about a third of it, at some 7 px a character
  // (Chart.js would otherwise draw longer labels past the canvas's left edge).
  function labelMax(width) {
    return Math.max(10, Math.min(40, Math.floor(width * 0.36 / 7)));
  }
  var language = document.documentElement.lang || "en";

  function shorten(text, width) {
    var most = labelMax(width);
    return text.length > most ? text.slice(0, most - 1) + "…" : text;
  }

  function draw(figure) {
    var source = document.getElementById(figure.getAttribute("data-chart"));
    if (!source) {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var bars = spec.labels.length * (spec.stacked ? 1 : spec.datasets.length);
    var box = figure.querySelector(".chart-box");
    box.style.height = Math.max(160, bars * 22 + spec.labels.length * 8 + 70) + "px";
    figure.hidden = false;
    var unit = spec.unit || "";
    new window.Chart(figure.querySelector("canvas"), {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (set, i) {
          return {label: set.label, data: set.data, backgroundColor: COLOURS[i % COLOURS.length]};
        })
      },
      options: {
        indexAxis: "y",
        locale: language,
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: {
            stacked: spec.stacked,
            beginAtZero: true,
            max: spec.max === null ? undefined : spec.max,
            ticks: {callback: function (value) { return value.toLocaleString(language) + unit; }}
          },
          y: {
            stacked: spec.stacked,
            ticks: {autoSkip: false, callback: function (value) { return shorten(this.getLabelForValue(value), this.chart.width); }}
          }
        },
        plugins: {
          legend: {display: spec.datasets.length > 1, position: "bottom"},
          tooltip: {callbacks: {label: function (item) {
            var value = item.parsed.x;
            return item.dataset.label + ": " + (value === null ? "–" : value.toLocaleString(language) + unit);
          }}}
        }
      }
    });
  }

  document.querySelectorAll("figure[data-chart]").forEach(draw);
})();
