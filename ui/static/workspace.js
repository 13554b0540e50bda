// Lakegate SQL workspace: highlighting, completions, result pages. Without script the
// editor is a plain text area and every result row is shown.
(function () {
  "use strict";

  var WORD = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]*)?$/;
  var MAX_SHOWN = 12;

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  // The editor's text as HTML with the classes of ui/highlight.py (kw, str, num, fn, id, com).
  function highlight(text, keywords) {
    var out = [];
    var pattern = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.)*"?)|(`[^`]*`?)|(\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[A-Za-z]*\b)|([A-Za-z_][A-Za-z0-9_]*)/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      out.push(escapeHtml(text.slice(last, match.index)));
      var css = null;
      if (match[1] !== undefined) { css = "com"; }
      else if (match[2] !== undefined) { css = "str"; }
      else if (match[3] !== undefined) { css = "id"; }
      else if (match[4] !== undefined) { css = "num"; }
      else if (/^\s*\(/.test(text.slice(pattern.lastIndex))) { css = "fn"; }
      else if (keywords[match[5].toUpperCase()]) { css = "kw"; }
      var piece = escapeHtml(match[0]);
      out.push(css ? '<span class="' + css + '">' + piece + "</span>" : piece);
      last = pattern.lastIndex;
    }
    out.push(escapeHtml(text.slice(last)));
    // A final line break needs a character after it to take up a line, as in the text area.
    return out.join("") + "\n ";
  }

  // Tables named after FROM or JOIN, with their aliases: alias or table → table name.
  function tablesInQuery(text, byName, keywords) {
    var found = {};
    var pattern = /\b(?:from|join)\s+([A-Za-z_]\w*\.[A-Za-z_]\w*)(?:\s+(?:as\s+)?([A-Za-z_]\w*))?/gi;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      var name = match[1].toLowerCase();
      if (!byName[name]) { continue; }
      found[name] = name;
      found[name.split(".")[1]] = name;
      if (match[2] && !keywords[match[2].toUpperCase()]) { found[match[2].toLowerCase()] = name; }
    }
    return found;
  }

  function candidates(word, text, schema) {
    var lower = word.toLowerCase();
    var dot = lower.indexOf(".");
    var used = tablesInQuery(text, schema.byName, schema.keywords);
    var out = [];
    function add(label, insert, detail) {
      if (out.length < 200 && insert.toLowerCase().indexOf(lower) === 0 && insert.toLowerCase() !== lower) {
        out.push({ label: label, insert: insert, detail: detail });
      }
    }
    if (dot >= 0) {
      var head = lower.slice(0, dot);
      var table = used[head] || schema.byName[head];
      if (table) {
        schema.byName[table].columns.forEach(function (c) { add(c.name, word.slice(0, dot + 1) + c.name, columnDetail(c)); });
      }
      schema.tables.forEach(function (t) { add(t.name, t.name, t.kind); });
      return out.slice(0, MAX_SHOWN);
    }
    var seen = {};
    Object.keys(used).forEach(function (key) {
      var t = schema.byName[used[key]];
      if (seen[t.name]) { return; }
      seen[t.name] = true;
      t.columns.forEach(function (c) { add(c.name, c.name, columnDetail(c) + " · " + t.name); });
    });
    schema.tables.forEach(function (t) { add(t.name, t.name, t.kind); });
    schema.keywordList.forEach(function (k) { if (lower.length >= 2) { add(k, k, "keyword"); } });
    return out.slice(0, MAX_SHOWN);
  }

  function columnDetail(c) { return c.type + (c.mask ? " · masked: " + c.mask : ""); }

  function setUp(editor) {
    var area = editor.querySelector("textarea");
    var code = editor.querySelector(".editor-highlight code");
    var pre = editor.querySelector(".editor-highlight");
    var list = editor.querySelector(".completions");
    var data = JSON.parse(document.getElementById("workspace-schema").textContent);
    var schema = { tables: data.tables, byName: {}, keywords: {}, keywordList: data.keywords };
    data.tables.forEach(function (t) { schema.byName[t.name] = t; });
    data.keywords.forEach(function (k) { schema.keywords[k] = true; });
    var shown = [];
    var active = -1;
    var wordStart = 0;

    editor.classList.add("editor-live");

    function paint() {
      code.innerHTML = highlight(area.value, schema.keywords);
      pre.scrollTop = area.scrollTop;
      pre.scrollLeft = area.scrollLeft;
    }

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      shown = [];
      active = -1;
      area.removeAttribute("aria-activedescendant");
    }

    function choose(index) {
      var item = shown[index];
      if (!item) { return; }
      var end = area.selectionStart;
      area.setRangeText(item.insert, wordStart, end, "end");
      close();
      paint();
      area.focus();
    }

    function mark(index) {
      active = index;
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      if (index >= 0) { area.setAttribute("aria-activedescendant", "completion-" + index); }
    }

    function open(force) {
      var before = area.value.slice(0, area.selectionStart);
      var match = WORD.exec(before);
      var word = match ? match[0] : "";
      if (!word && !force) { close(); return; }
      wordStart = area.selectionStart - word.length;
      shown = candidates(word, area.value, schema);
      if (!shown.length) { close(); return; }
      list.innerHTML = "";
      shown.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = "completion-" + i;
        li.setAttribute("role", "option");
        var name = document.createElement("code");
        name.textContent = item.label;
        var detail = document.createElement("span");
        detail.className = "muted small";
        detail.textContent = " " + item.detail;
        li.appendChild(name);
        li.appendChild(detail);
        li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      // Under the caret: the editor's font is monospaced and its lines do not wrap.
      var lines = before.split("\n");
      var style = window.getComputedStyle(area);
      var lineHeight = parseFloat(style.lineHeight) || 20;
      var charWidth = measure(style);
      var top = parseFloat(style.paddingTop) + lines.length * lineHeight - area.scrollTop;
      var left = parseFloat(style.paddingLeft) + (lines[lines.length - 1].length - word.length) * charWidth - area.scrollLeft;
      list.style.top = Math.max(0, Math.min(top, area.clientHeight)) + "px";
      list.style.left = Math.max(0, Math.min(left, area.clientWidth - 200)) + "px";
      list.hidden = false;
      mark(0);
    }

    var widthCache = null;
    function measure(style) {
      if (widthCache) { return widthCache; }
      var probe = document.createElement("span");
      probe.style.font = style.font;
      probe.style.visibility = "hidden";
      probe.style.position = "absolute";
      probe.textContent = "0000000000";
      document.body.appendChild(probe);
      widthCache = probe.getBoundingClientRect().width / 10 || 8;
      document.body.removeChild(probe);
      return widthCache;
    }

    area.addEventListener("input", function (event) {
      paint();
      var typed = event.data || "";
      if (/^[A-Za-z0-9_.]$/.test(typed)) { open(false); } else { close(); }
    });
    area.addEventListener("scroll", paint);
    area.addEventListener("blur", close);
    area.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        event.preventDefault();
        area.form.requestSubmit();
        return;
      }
      if (event.ctrlKey && (event.key === " " || event.code === "Space")) {
        event.preventDefault();
        open(true);
        return;
      }
      if (list.hidden) { return; }
      if (event.key === "ArrowDown") { event.preventDefault(); mark((active + 1) % shown.length); }
      else if (event.key === "ArrowUp") { event.preventDefault(); mark((active - 1 + shown.length) % shown.length); }
      else if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); choose(active); }
      else if (event.key === "Escape") { event.preventDefault(); close(); }
    });
    paint();

    // Where the gateway found the problem: put the caret there.
    var line = parseInt(editor.getAttribute("data-error-line") || "0", 10);
    if (line > 0) {
      var col = parseInt(editor.getAttribute("data-error-col") || "1", 10);
      var offset = 0;
      var rows = area.value.split("\n");
      for (var i = 0; i < line - 1 && i < rows.length; i++) { offset += rows[i].length + 1; }
      offset += Math.max(0, Math.min(col - 1, (rows[line - 1] || "").length));
      area.focus();
      area.setSelectionRange(offset, offset);
    }
  }

  // The rows of a result, one page at a time.
  function pageTable(table) {
    var size = parseInt(table.getAttribute("data-page-rows") || "50", 10);
    var rows = table.tBodies[0].rows;
    var pager = table.closest("section").querySelector(".result-pager");
    var pages = Math.ceil(rows.length / size);
    if (!pager || pages <= 1) { return; }
    var status = pager.querySelector(".page-status");
    var prev = pager.querySelector('[data-page="prev"]');
    var next = pager.querySelector('[data-page="next"]');
    var current = 0;
    function show(page) {
      current = Math.max(0, Math.min(page, pages - 1));
      for (var i = 0; i < rows.length; i++) {
        rows[i].hidden = Math.floor(i / size) !== current;
      }
      var first = current * size + 1;
      var last = Math.min(rows.length, first + size - 1);
      status.textContent = "Rows " + first + "–" + last + " of " + rows.length + " (page " + (current + 1) + " of " + pages + ")";
      prev.disabled = current === 0;
      next.disabled = current === pages - 1;
    }
    prev.addEventListener("click", function () { show(current - 1); });
    next.addEventListener("click", function () { show(current + 1); });
    pager.hidden = false;
    show(0);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".editor").forEach(setUp);
    document.querySelectorAll("table.result-table").forEach(pageTable);
  });
})();
