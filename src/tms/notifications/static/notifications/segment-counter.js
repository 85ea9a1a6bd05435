// Live preview and SMS segment counter for the template editor: the same rules as
// segments.py (GSM-7 160/153 septets, extension characters count two; else UCS-2
// 70/67), applied to the text filled with the longest realistic values.
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "\f^{}\\[~]|€";

  function count(text) {
    var gsm = true, units = [];
    for (var ch of text) {
      if (BASIC.indexOf(ch) >= 0) { units.push(1); }
      else if (EXTENSION.indexOf(ch) >= 0) { units.push(2); }
      else { gsm = false; break; }
    }
    if (!gsm) { units = []; for (var c of text) { units.push(c.length); } }
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    var total = units.reduce(function (a, b) { return a + b; }, 0);
    if (total <= single) { return { gsm: gsm, units: total, segments: 1 }; }
    var parts = 1, used = 0;
    units.forEach(function (u) { if (used + u > multi) { parts += 1; used = 0; } used += u; });
    return { gsm: gsm, units: total, segments: parts };
  }

  function fill(body, values) {
    return body.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  function attach(area) {
    var examples = JSON.parse(area.getAttribute("data-examples") || "{}");
    var event = document.getElementById("id_event");
    var language = document.getElementById("id_language");
    var preview = document.createElement("p");
    var counter = document.createElement("p");
    preview.style.whiteSpace = "pre-wrap";
    counter.setAttribute("aria-live", "polite");
    counter.className = "help";
    area.parentNode.insertBefore(counter, area.nextSibling);
    area.parentNode.insertBefore(preview, counter);
    function update() {
      var values = ((examples[event && event.value] || {})[language && language.value]) || {};
      var text = fill(area.value, values);
      var result = count(text);
      preview.textContent = text;
      counter.textContent = (result.gsm ? "GSM-7" : "UCS-2 (a character outside GSM-7 halves the room)") +
        ": " + result.units + " units, " + result.segments + " segment(s) with the longest realistic values.";
      counter.style.color = result.segments > 2 ? "#b00020" : "";
    }
    [area, event, language].forEach(function (el) {
      if (el) { el.addEventListener("input", update); el.addEventListener("change", update); }
    });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var area = document.getElementById("id_body");
    if (area) { attach(area); }
  });
})();
