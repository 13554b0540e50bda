// Lakegate metric editor: column names written into the expression, the view's columns shown on change,
// and the cursor put where a refused expression's error points. The form works without script.
(function () {
  "use strict";

  var lastSql = null;

  function insertAt(area, text) {
    var start = area.selectionStart, end = area.selectionEnd, value = area.value;
    area.value = value.slice(0, start) + text + value.slice(end);
    area.focus();
    area.setSelectionRange(start + text.length, start + text.length);
  }

  // The offset of (line, column), both counted from 1, in text.
  function offsetOf(text, line, column) {
    var lines = text.split("\n"), offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { offset += lines[i].length + 1; }
    return Math.min(text.length, offset + Math.max(0, column - 1));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("editor");
    if (!form) { return; }
    form.querySelectorAll("textarea.code").forEach(function (area) {
      area.addEventListener("focus", function () { lastSql = area; });
    });
    form.querySelectorAll("[data-insert]").forEach(function (button) {
      button.addEventListener("click", function () {
        insertAt(lastSql || document.getElementById("expression"), button.getAttribute("data-insert"));
      });
    });
    var select = form.querySelector("select[data-columns-button]");
    if (select) {
      select.addEventListener("change", function () {
        var button = document.getElementById(select.getAttribute("data-columns-button"));
        if (button && form.requestSubmit) { form.requestSubmit(button); }
      });
    }
    var pointed = form.querySelector("textarea[data-line]");
    if (pointed) {
      var at = offsetOf(pointed.value, Number(pointed.getAttribute("data-line")), Number(pointed.getAttribute("data-column")));
      pointed.focus();
      pointed.setSelectionRange(at, Math.min(pointed.value.length, at + 1));
    }
  });
})();
