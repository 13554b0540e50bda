// Lakegate web UI: small progressive enhancements; every page works without script.
(function () {
  "use strict";

  // Sign-in: show only the fields of the chosen method.
  function syncMethod() {
    var chosen = document.querySelector('input[name="method"]:checked');
    if (!chosen) { return; }
    document.querySelectorAll(".method").forEach(function (box) {
      var active = box.getAttribute("data-method") === chosen.value;
      box.hidden = !active;
      box.querySelectorAll("input").forEach(function (input) { input.disabled = !active; });
    });
  }

  // Forms with data-confirm ask before they are sent.
  function confirmSubmit(event) {
    var text = event.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) { event.preventDefault(); }
  }

  // Scrollable tables and figures get keyboard focus so they can be scrolled without a mouse.
  function focusableScrollers() {
    document.querySelectorAll(".table-wrap, .graph, .chart").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
      }
    });
  }

  // Shortened hashes get a button that copies the full value (it is also in the title).
  function copyButtons(root) {
    if (!navigator.clipboard) { return; }
    (root || document).querySelectorAll("code[data-copy]").forEach(function (code) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn-copy";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy the full value");
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(code.getAttribute("data-copy")).then(function () {
          button.textContent = "Copied";
        });
      });
      code.insertAdjacentElement("afterend", button);
    });
  }

  // Parts of a page that are slow to read (a dataset's sample rows) arrive after it: the box shows
  // "loading" until the part's own URL answers, then takes its HTML (rendered and escaped by the server).
  function loadParts() {
    document.querySelectorAll("[data-load]").forEach(function (box) {
      var url = box.getAttribute("data-load");
      var fallback = box.querySelector(".sample-now");  // the link that loads the page with the rows
      if (fallback) { fallback.hidden = true; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.redirected || !response.ok) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          box.innerHTML = html;
          focusableScrollers();
          copyButtons(box);
        })
        .catch(function (error) {
          var note = document.createElement("p");
          note.className = "flash flash-bad";
          note.setAttribute("role", "alert");
          note.textContent = error.message === "200"
            ? "Your session has ended; sign in again to see the sample rows."
            : "The sample rows could not be loaded (status " + error.message + ").";
          box.replaceChildren(note);
          if (fallback) { fallback.hidden = false; box.appendChild(fallback); }
        })
        .finally(function () { box.removeAttribute("aria-busy"); box.removeAttribute("data-load"); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll('input[name="method"]').forEach(function (radio) {
      radio.addEventListener("change", syncMethod);
    });
    syncMethod();
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", confirmSubmit);
    });
    focusableScrollers();
    copyButtons();
    loadParts();
    window.addEventListener("resize", focusableScrollers);
  });
})();
