// Daftar office console: search as you type, the payment preview, and keys.
(function () {
  "use strict";
  function debounce(fn, ms) {
    var t;
    return function () { clearTimeout(t); var a = arguments; t = setTimeout(function () { fn.apply(null, a); }, ms); };
  }
  function load(url, target) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.text(); })
      .then(function (html) { target.innerHTML = html; target.dataset.loaded = url; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    // A long server call (the invoice run): the button says what is happening and cannot be
    // pressed twice while the page waits for the answer.
    Array.prototype.forEach.call(document.querySelectorAll("button[data-busy]"), function (b) {
      if (b.form) {
        b.form.addEventListener("submit", function () {
          setTimeout(function () { b.disabled = true; b.textContent = b.dataset.busy; }, 0);
        });
      }
    });
    // A form with data-progress (the invoice run): while the page waits for the answer, ask
    // how far the run has got and show it in the form's <progress>.
    Array.prototype.forEach.call(document.querySelectorAll("form[data-progress]"), function (f) {
      f.addEventListener("submit", function () {
        var bar = f.querySelector("progress");
        var said = f.querySelector(".progress-text");
        if (!bar) { return; }
        bar.hidden = false;
        var poll = function () {
          fetch(f.dataset.progress, { credentials: "same-origin" }).then(function (r) { return r.json(); })
            .then(function (p) {
              if (p.total > 0) { bar.max = p.total; bar.value = p.issued; }
              if (said) { said.textContent = "Issued " + p.issued + " of " + (p.total || bar.max) + " invoices…"; }
            }).catch(function () {})
            .then(function () { setTimeout(poll, 400); });
        };
        setTimeout(poll, 200);
      });
    });
    var search = document.getElementById("search");
    var results = document.getElementById("results");
    if (search && results) {
      var refresh = debounce(function () {
        load("/cashier/results?q=" + encodeURIComponent(search.value), results);
      }, 120);
      search.addEventListener("input", refresh);
      search.addEventListener("keydown", function (e) {
        var first = document.querySelector("#results a.result");
        if ((e.key === "Enter" || e.key === "ArrowDown") && first) {
          e.preventDefault();
          if (e.key === "Enter") { window.location = first.getAttribute("href"); } else { first.focus(); }
        }
      });
      results.addEventListener("keydown", function (e) {
        var items = Array.prototype.slice.call(document.querySelectorAll("#results a.result"));
        var i = items.indexOf(document.activeElement);
        if (e.key === "ArrowDown" && i >= 0 && i + 1 < items.length) { e.preventDefault(); items[i + 1].focus(); }
        if (e.key === "ArrowUp") { e.preventDefault(); if (i > 0) { items[i - 1].focus(); } else { search.focus(); } }
      });
    }
    var pay = document.getElementById("pay");
    var amount = document.getElementById("amount");
    var preview = document.getElementById("preview");
    if (pay && amount && preview) {
      var show = debounce(function () {
        load("/family/" + pay.dataset.family + "/preview?amount=" + encodeURIComponent(amount.value), preview);
      }, 80);
      amount.addEventListener("input", show);
      if (amount.value) { show(); }
    }
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () {
        document.body.classList.remove("a4", "a5");
        if (b.dataset.print !== "roll") { document.body.classList.add(b.dataset.print); }
        window.print();
      });
    });
    document.addEventListener("keydown", function (e) {
      var typing = /^(INPUT|SELECT|TEXTAREA)$/.test((e.target && e.target.tagName) || "");
      if (typing || e.ctrlKey || e.metaKey || e.altKey) { return; }
      var next = document.getElementById("next-family");
      if (e.key === "/") { e.preventDefault(); window.location = "/cashier"; }
      if ((e.key === "n" || e.key === "N") && next) { e.preventDefault(); window.location = next.getAttribute("href"); }
      if ((e.key === "p" || e.key === "P") && document.getElementById("print-80")) { e.preventDefault(); document.getElementById("print-80").click(); }
      if ((e.key === "t" || e.key === "T") && document.getElementById("print-thermal")) { e.preventDefault(); document.getElementById("print-thermal").click(); }
    });
    var bar = document.getElementById("sync-bar");
    var typing = false, lastActive = Date.now();
    document.addEventListener("input", function () { typing = true; });
    ["keydown", "mousedown", "focusin"].forEach(function (k) {
      document.addEventListener(k, function () { lastActive = Date.now(); });
    });
    if (bar) {
      setInterval(function () {
        fetch("/status.json", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
          .then(function (s) {
            if (!s) { return; }
            bar.dataset.queued = s.queued;
            document.getElementById("sync-queued").textContent = s.queued + " queued edit" + (s.queued === 1 ? "" : "s");
            document.getElementById("sync-last").textContent = s.last_pull_local ? "last synced " + s.last_pull_local : "never synced";
            document.getElementById("sync-online").textContent = s.online === true ? "online" :
              (s.online === false ? "offline — edits are kept here and sent when the server is back" : "connecting…");
            bar.className = s.online === false ? "offline" : "";
            var att = document.getElementById("sync-attention");
            if (att) {
              att.innerHTML = s.needing_attention > 0 ?
                '<a href="/attention">' + s.needing_attention + " need attention</a> · " : "";
            }
            // A pull brought changes: show them, unless someone is typing on this page.
            if (String(s.replica_version) !== bar.dataset.version && !typing &&
                Date.now() - lastActive > 5000) {
              window.location.reload();
            }
          });
      }, 2000);
    }
  });
})();
