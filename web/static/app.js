/* The agents' pages' only script of their own (no inline script: the CSP allows 'self' alone).
   1. Countdowns: every element with data-due ticks once a second and turns at_risk / breached
      when its data-next / data-due instant passes (the server re-renders the rows anyway).
   2. Copy buttons: data-copy="<element id>" copies that element's text to the clipboard. */
(function () {
  "use strict";

  function span(seconds) {
    var s = Math.abs(Math.floor(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) { return d + "天" + h + "小时"; }
    if (h) { return h + "小时" + m + "分"; }
    if (m) { return m + "分钟"; }
    return (s % 60) + "秒";
  }

  function setState(el, state) {
    if (el.dataset.state === state) { return; }
    el.classList.remove("sla-" + el.dataset.state);
    el.classList.add("sla-" + state);
    el.dataset.state = state;
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      if (!el.dataset.due || el.dataset.active !== "1" || el.dataset.state === "met") { return; }
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) { return; }
      var left = (due - now) / 1000;
      var text = el.querySelector(".countdown-text");
      if (text) { text.textContent = left >= 0 ? "剩 " + span(left) : "超时 " + span(left); }
      if (left <= 0) {
        setState(el, "breached");
      } else if (el.dataset.next && el.dataset.state === "ok" && Date.parse(el.dataset.next) <= now) {
        setState(el, "at_risk");
      }
    });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // http:// on a LAN address is not a secure context: fall back to a hidden textarea.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.dataset.copy);
    if (!source) { return; }
    var note = button.parentElement.querySelector(".copied");
    copyText(source.textContent.trim()).then(function () {
      button.dataset.copied = "1";
      if (note) { note.textContent = "已复制"; note.hidden = false; }
    }, function () {
      if (note) { note.textContent = "复制失败，请手动选择文字复制"; note.hidden = false; }
    });
  });

  tick();
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
})();
