/* The scanning page without reloads: each scan is POSTed (CSRF token in the form) to the
   JSON endpoint and answered with colour, text and a short tone. Without JavaScript the
   form posts to the page itself and works the same, only slower. */
(function () {
  "use strict";
  var MUTED_KEY = "tms.scan.muted";
  var form = document.getElementById("scan-form");
  if (!form || !window.fetch) return;
  var input = document.getElementById("scan-code");
  var result = document.getElementById("scan-result");
  var mute = document.getElementById("scan-mute");
  var undoForm = document.getElementById("scan-undo");
  var audio = null;
  var queue = Promise.resolve();

  function muted() {
    try { return localStorage.getItem(MUTED_KEY) === "1"; } catch (e) { return false; }
  }
  function showMute() {
    var on = muted();
    mute.textContent = on ? mute.dataset.unmute : mute.dataset.mute;
    mute.setAttribute("aria-pressed", on ? "true" : "false");
  }
  mute.hidden = false;
  showMute();
  mute.addEventListener("click", function () {
    try { localStorage.setItem(MUTED_KEY, muted() ? "0" : "1"); } catch (e) { /* private mode */ }
    showMute();
    input.focus();
  });

  // Tones made on the spot (no audio files): rising for success, one mid tone for
  // "look twice", two low buzzes for "put it aside".
  var TONES = {
    success: [[660, 0, 0.09, "sine"], [990, 0.1, 0.12, "sine"]],
    warning: [[520, 0, 0.22, "triangle"]],
    error: [[200, 0, 0.16, "square"], [200, 0.22, 0.16, "square"]]
  };
  function beep(tone) {
    if (muted() || !TONES[tone]) return;
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume();
    var start = audio.currentTime + 0.01;
    TONES[tone].forEach(function (part) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = part[3];
      osc.frequency.value = part[0];
      gain.gain.setValueAtTime(0.0001, start + part[1]);
      gain.gain.exponentialRampToValueAtTime(0.25, start + part[1] + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + part[1] + part[2]);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + part[1]);
      osc.stop(start + part[1] + part[2] + 0.02);
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function icon() {
    var node = el("span", "scan-icon");
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  function showOutcome(outcome) {
    result.className = "scan-result tone-" + outcome.tone;
    result.textContent = "";
    var head = el("p", "scan-head");
    head.appendChild(icon());
    head.appendChild(el("strong", "scan-label", outcome.label));
    head.appendChild(document.createTextNode(" "));
    head.appendChild(el("span", "ref", outcome.reference));
    result.appendChild(head);
    result.appendChild(el("p", "scan-message", outcome.message));
    beep(outcome.tone);
  }

  function showState(data) {
    data.tally.forEach(function (row) {
      var cell = document.querySelector('#scan-tally tr[data-kind="' + row.kind + '"] .count');
      if (cell) cell.textContent = row.count;
    });
    document.getElementById("scan-total").textContent = data.total;
    var list = document.getElementById("scan-recent");
    list.textContent = "";
    data.recent.forEach(function (entry) {
      var item = el("li", "tone-" + entry.tone);
      item.appendChild(icon());
      item.appendChild(document.createTextNode(" "));
      item.appendChild(el("time", "", entry.time));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(el("strong", "", entry.label));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(el("span", "ref", entry.reference));
      item.appendChild(el("br"));
      item.appendChild(el("span", "scan-message", entry.message));
      list.appendChild(item);
    });
    if (data.undo) {
      undoForm.elements.application.value = data.undo.application;
      undoForm.querySelector("button").textContent = data.undo.label;
      undoForm.hidden = false;
    } else {
      undoForm.hidden = true;
    }
  }

  function failed(message) {
    showOutcome({ tone: "error", label: form.dataset.failedLabel, reference: "", message: message });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      redirect: "manual",
      headers: {
        "Accept": "application/json",
        "X-CSRFToken": form.elements.csrfmiddlewaretoken.value
      }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        failed(form.dataset.signedOut);
        return;
      }
      return response.json().then(function (data) {
        if (data.outcome) {
          showOutcome(data.outcome);
          showState(data);
        } else {
          failed(data.error || form.dataset.failed);
        }
      });
    }, function () {
      failed(form.dataset.failed);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = input.value.trim();
    input.value = "";
    input.focus();
    if (!code) return;
    var body = new FormData(form);
    body.set(input.name, code);
    // In order, one at a time: a scanner may type the next slip before the answer.
    queue = queue.then(function () { return post(form.dataset.jsonUrl, body); });
  });

  undoForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = new FormData(undoForm);
    queue = queue.then(function () { return post(undoForm.action, body); });
    input.focus();
  });
})();
