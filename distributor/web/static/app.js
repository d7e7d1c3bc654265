// Progressive enhancement only: every form works without this file.
// Live counter: as a post is edited, the server measures it by the platform's own rule.
(function () {
  "use strict";
  function csrfOf(form) {
    var field = form.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }
  function wire(textarea) {
    var form = textarea.form;
    var counter = document.getElementById(textarea.getAttribute("aria-describedby"));
    if (!form || !counter) return;
    var timer = null;
    var latest = 0;
    textarea.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var asked = ++latest;
        fetch("/api/measure", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfOf(form) },
          body: JSON.stringify({ platform: textarea.dataset.platform, text: textarea.value })
        }).then(function (answer) {
          return answer.ok ? answer.json() : null;
        }).then(function (m) {
          if (!m || asked !== latest) return;
          counter.textContent = "";
          var count = document.createElement("span");
          count.className = "count";
          count.textContent = String(m.length);
          counter.appendChild(count);
          var unit = m.detail.split(" ").slice(1).join(" ");
          counter.appendChild(document.createTextNode(" / " + m.limit + " " + unit + (m.fits ? "" : " — over the limit")));
          counter.classList.toggle("over", !m.fits);
        }).catch(function () { /* the counter updates again after saving */ });
      }, 200);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-platform]"), wire);
  });
})();
