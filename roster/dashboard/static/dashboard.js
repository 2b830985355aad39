// Roster dashboard: a little vanilla JS on top of pages that work without it.
(function () {
  "use strict";

  // The imports list refreshes itself while any import is queued or running.
  function refreshList() {
    var box = document.getElementById("imports-table");
    if (!box) return;
    var running = box.querySelector("[data-running='yes']");
    if (!running) return;
    setTimeout(function () {
      fetch(box.dataset.refresh, { credentials: "same-origin", headers: { "accept": "text/html" } })
        .then(function (r) { if (r.redirected || !r.ok) throw new Error("stopped"); return r.text(); })
        .then(function (html) { box.innerHTML = html; refreshList(); })
        .catch(function () { /* signed out or offline: stop refreshing */ });
    }, 2000);
  }

  // One import: poll its counts while it runs; reload once it ends (failed rows, breakdown).
  function pollImport() {
    var live = document.getElementById("live");
    if (!live || !live.dataset.poll) return;
    var fmt = new Intl.NumberFormat("en-US");
    function tick() {
      fetch(live.dataset.poll, { credentials: "same-origin", headers: { "accept": "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (imp) {
          Object.keys(imp.counts).forEach(function (k) {
            var el = live.querySelector("[data-count='" + k + "']");
            if (el) el.textContent = fmt.format(imp.counts[k]);
          });
          var status = document.getElementById("status");
          status.textContent = imp.status_label;
          status.className = "status s-" + (imp.badge || imp.status);
          status.dataset.status = imp.status;
          document.getElementById("progress-label").textContent = imp.progress.phase;
          var bar = live.querySelector(".bar"), fill = live.querySelector(".fill");
          if (imp.progress.percent === null) {
            fill.classList.add("unknown"); fill.style.width = "100%"; bar.removeAttribute("aria-valuenow");
          } else {
            fill.classList.remove("unknown"); fill.style.width = imp.progress.percent + "%";
            bar.setAttribute("aria-valuenow", imp.progress.percent);
          }
          document.title = imp.status_label + " · " + imp.filename + " · Roster";
          if (imp.running) setTimeout(tick, 1000); else { announceEnd(imp); window.location.reload(); }
        })
        .catch(function () { setTimeout(tick, 5000); });
    }
    setTimeout(tick, 1000);
  }

  // Upload with a progress bar (XHR reports upload progress; fetch does not), or drop a file.
  function upload() {
    var form = document.getElementById("upload-form");
    if (!form) return;
    var input = document.getElementById("file"), drop = document.getElementById("drop");
    var box = form.querySelector(".upload-progress"), bar = document.getElementById("upload-bar");
    var pct = document.getElementById("upload-percent"), msg = document.getElementById("upload-message");
    var limit = parseInt(form.dataset.limit, 10);
    ["dragenter", "dragover"].forEach(function (e) {
      drop.addEventListener(e, function (ev) { ev.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (e) {
      drop.addEventListener(e, function (ev) { ev.preventDefault(); drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (ev) {
      if (ev.dataTransfer && ev.dataTransfer.files.length) { input.files = ev.dataTransfer.files; }
    });
    function fail(text) { msg.textContent = text; msg.hidden = false; box.hidden = true; form.querySelector("button").disabled = false; }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      msg.hidden = true;
      var file = input.files[0];
      if (!file) return fail("Choose a CSV file to upload.");
      if (file.size === 0) return fail("“" + file.name + "” is empty (0 bytes): choose a CSV with a header row and a row per contact.");
      if (file.size > limit) return fail("The file is larger than the upload limit.");
      var data = new FormData(form), xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("accept", "application/json");
      xhr.setRequestHeader("x-csrf-token", form.elements.csrf.value);
      xhr.upload.onprogress = function (e) {
        if (!e.lengthComputable) return;
        var p = Math.round(100 * e.loaded / e.total);
        bar.value = p; pct.textContent = p + "%";
      };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status === 200 && body.review_url) { pct.textContent = "Reading the file…"; window.location = body.review_url; }
        else if (xhr.status === 401) { window.location = form.action.replace(/imports\/upload$/, "sign-in"); }
        else fail(body.error || ("The upload failed (" + xhr.status + ")."));
      };
      xhr.onerror = function () { fail("The upload failed: the connection was lost."); };
      box.hidden = false; bar.value = 0; pct.textContent = "0%";
      form.querySelector("button").disabled = true;
      xhr.send(data);
    });
  }

  // Review: show the new-property fields and the invert switch only where they apply; a column
  // left out (unticked, or Ignore) looks left out; the summary above the table follows.
  function review() {
    var form = document.getElementById("review-form");
    if (form) {
      form.addEventListener("submit", function () {
        // One import per click: a second press while the first is being checked would start another.
        var start = document.getElementById("start");
        setTimeout(function () { start.disabled = true; start.textContent = "Starting…"; }, 0);
      });
    }
    var rows = document.querySelectorAll(".maprow");
    function summarise() {
      var box = document.querySelector("[data-testid='summary']");
      if (!box) return;
      var n = { fields: 0, existing: 0, "new": 0, ignored: 0, check: 0 }, newNames = [], outNames = [];
      rows.forEach(function (row) {
        var v = row.querySelector("select.target").value;
        var kept = row.querySelector("input[name^='include_']").checked && v !== "ignore";
        if (!kept) { n.ignored++; outNames.push(row.dataset.column); return; }
        if (v === "new") { n["new"]++; newNames.push(row.querySelector("input[name^='new_key_']").value); }
        else if (v.indexOf("property:") === 0) n.existing++; else n.fields++;
        if (row.classList.contains("needs-review")) n.check++;
      });
      Object.keys(n).forEach(function (k) {
        var el = box.querySelector("[data-summary='" + k + "']");
        if (el) el.textContent = n[k];
      });
      box.querySelector("[data-summary='new-names']").textContent = newNames.length ? " (" + newNames.join(", ") + ")" : "";
      box.querySelector("[data-summary='ignored-names']").textContent = outNames.length ? " (" + outNames.join(", ") + ")" : "";
      var kept = box.querySelector("[data-summary='kept']");
      if (kept) kept.textContent = n.fields + n.existing + n["new"];
    }
    rows.forEach(function (row) {
      var select = row.querySelector("select.target");
      var include = row.querySelector("input[name^='include_']");
      var suggested = select.value;
      function sync() {
        row.querySelectorAll("[data-show-for]").forEach(function (el) {
          el.hidden = select.value !== el.dataset.showFor;
        });
        var out = !include.checked || select.value === "ignore";
        row.classList.toggle("excluded", out);
        // "check" is about the engine's suggestion: shown while the column is in and still suggested.
        row.classList.toggle("needs-review", !out && row.dataset.check === "yes" && select.value === suggested);
        summarise();
      }
      select.addEventListener("change", function () {
        // Ignore leaves the column out; any other target takes it in.
        include.checked = select.value !== "ignore";
        sync();
      });
      var newKey = row.querySelector("input[name^='new_key_']");
      if (newKey) newKey.addEventListener("input", summarise);
      include.addEventListener("change", function () {
        if (include.checked && select.value === "ignore") select.value = suggested !== "ignore" ? suggested : "new";
        sync();
      });
      sync();
    });
  }

  // The tab's title says how an import stands, so a person on another tab sees it end; and, if
  // they allowed it, the browser tells them.
  function notifier() {
    var button = document.getElementById("notify");
    var live = document.getElementById("live");
    if (!button || !live || !live.dataset.poll || !("Notification" in window)) return;
    if (Notification.permission === "default") {
      button.hidden = false;
      button.addEventListener("click", function () {
        Notification.requestPermission().then(function () { button.hidden = true; });
      });
    }
  }

  function announceEnd(imp) {
    document.title = imp.status_label + " · " + imp.filename + " · Roster";
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      new Notification("Import " + imp.status_label.toLowerCase() + ": " + imp.filename, {
        body: imp.counts.total.toLocaleString("en-US") + " rows: " + imp.counts.created.toLocaleString("en-US") +
          " created, " + imp.counts.updated.toLocaleString("en-US") + " updated, " +
          imp.counts.failed.toLocaleString("en-US") + " failed",
        tag: "roster-import-" + imp.id
      });
    } catch (e) { /* some browsers only notify from a service worker */ }
  }

  // Cancel and revert ask first (the forms work without this, unconfirmed).
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { refreshList(); pollImport(); upload(); review(); confirmations(); notifier(); });
})();
