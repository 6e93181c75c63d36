// Talkback's comment counts for index pages:
//   <script src="https://comments.example.com/count.js" data-site="myblog" defer></script>
// fills every element with data-talkback-count="PAGE KEY OR URL" with the page's count in the
// page's language ("16 Responses"), with one request per hundred pages. Plain script, no WASM;
// text only, never HTML.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var site = script.getAttribute("data-site");
  var base = script.src.replace(/\/count\.js([?#].*)?$/, "");
  var els = document.querySelectorAll("[data-talkback-count]");
  if (!site || !els.length) return;
  var lang = script.getAttribute("data-lang") || document.documentElement.lang || "en";
  var pages = [];
  for (var i = 0; i < els.length; i++) {
    var key = els[i].getAttribute("data-talkback-count");
    if (pages.indexOf(key) < 0) pages.push(key);
  }
  function fill(labels) {
    for (var i = 0; i < els.length; i++) {
      var text = labels[els[i].getAttribute("data-talkback-count")];
      if (text != null) els[i].textContent = text;
    }
  }
  for (var j = 0; j < pages.length; j += 100) {
    fetch(base + "/api/v1/counts", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ site: site, pages: pages.slice(j, j + 100), lang: lang })
    }).then(function (r) {
      return r.ok ? r.json() : {};
    }).then(function (res) {
      if (res.labels) fill(res.labels);
    })["catch"](function () {});
  }
})();
