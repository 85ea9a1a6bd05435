// Live SMS segment counter for the template editor: the same rules as segments.py
// (GSM-7 160/153 septets, extension characters count two; else UCS-2 70/67).
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

  function attach(area) {
    var out = document.createElement("p");
    out.setAttribute("aria-live", "polite");
    out.className = "help";
    area.parentNode.insertBefore(out, area.nextSibling);
    function update() {
      var result = count(area.value);
      out.textContent = (result.gsm ? "GSM-7" : "UCS-2 (a character outside GSM-7 halves the room)") +
        ": " + result.units + " units, " + result.segments + " segment(s) before placeholders are filled.";
      out.style.color = result.segments > 2 ? "#b00020" : "";
    }
    area.addEventListener("input", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var area = document.getElementById("id_body");
    if (area) { attach(area); }
  });
})();
