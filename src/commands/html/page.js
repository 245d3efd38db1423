// Rows made as they come into view, the filter box and "failures only".
// Plain DOM, no libraries: the page is opened from a file, offline.
(function () {
  "use strict";
  var filter = document.getElementById("filter");
  var failonly = document.getElementById("failonly");
  var shown = document.getElementById("shown");
  var sections = document.querySelectorAll("section.cls");
  var failing = /(^| )(failed|uxsuccess|unfinished)( |$)/;
  var pending = 0;

  // The rows a class holds as text (all but its failures) made rows.
  function render(section) {
    var text = section.querySelector("script[type='text/x-rows']");
    if (text) {
      section.querySelector("tbody").insertAdjacentHTML("beforeend", text.textContent);
      text.remove();
      return true;
    }
    return false;
  }
  // The first classes are made at once, not when the observer first runs
  // (which a busy browser may put off): about a screenful or two of rows,
  // measured by their text so that no layout is forced here.
  var first = 0;
  var budget = 100000;
  while (first < sections.length && budget > 0) {
    var rows = sections[first].querySelector("script[type='text/x-rows']");
    var size = rows ? rows.textContent.length : 0;
    if (first > 0 && size > budget) {
      break;
    }
    budget -= size;
    render(sections[first]);
    first++;
  }
  if ("IntersectionObserver" in window) {
    var observer = new IntersectionObserver(function (entries) {
      for (var i = 0; i < entries.length; i++) {
        if (entries[i].isIntersecting) {
          observer.unobserve(entries[i].target);
          if (render(entries[i].target) && (filter.value !== "" || failonly.checked)) {
            later();
          }
        }
      }
    }, { rootMargin: "2000px 0px" });
    for (var s = first; s < sections.length; s++) {
      observer.observe(sections[s]);
    }
  } else {
    for (var s2 = 0; s2 < sections.length; s2++) {
      render(sections[s2]);
    }
  }

  function apply() {
    pending = 0;
    var text = filter.value.toLowerCase();
    var only = failonly.checked;
    var visible = 0;
    for (var t = 0; t < sections.length; t++) {
      var section = sections[t];
      if (text !== "") {
        render(section);
      }
      var klass = section.querySelector("caption").textContent.toLowerCase();
      var rows = section.querySelector("tbody").rows;
      var any = false;
      for (var r = 0; r < rows.length; r++) {
        var row = rows[r];
        if (row.className === "x" || row.className === "x hidden") {
          continue;
        }
        var keep = (!only || failing.test(row.className)) &&
          (text === "" || (klass + "." + row.cells[0].textContent).toLowerCase().indexOf(text) >= 0);
        row.classList.toggle("hidden", !keep);
        var next = row.nextElementSibling;
        if (next && next.classList.contains("x")) {
          next.classList.toggle("hidden", !keep);
        }
        if (keep) {
          any = true;
          visible++;
        }
      }
      // Rows not made yet are not failures, so not wanted with "only".
      var unmade = section.querySelector("script[type='text/x-rows']") !== null;
      section.classList.toggle("hidden", !any && (only || !unmade));
    }
    shown.textContent = (text === "" && !only) ? "" : visible + " shown";
  }
  function later() {
    if (!pending) {
      pending = setTimeout(apply, 150);
    }
  }
  filter.addEventListener("input", later);
  failonly.addEventListener("change", apply);
  // A link can carry the view: #filter=TEXT, #failures, or both joined
  // by &.
  var parts = location.hash.replace(/^#/, "").split("&");
  for (var i = 0; i < parts.length; i++) {
    if (parts[i].indexOf("filter=") === 0) {
      filter.value = decodeURIComponent(parts[i].slice(7));
    } else if (parts[i] === "failures") {
      failonly.checked = true;
    }
  }
  if (filter.value !== "" || failonly.checked) {
    apply();
  }
  // When the page was ready, for benches/html_open.sh.
  document.documentElement.setAttribute("data-ready-ms", Math.round(performance.now()));
})();
