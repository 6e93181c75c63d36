/* Talkback embed loader. A classic script (document.currentScript must work), no framework.
 * 1. Reads its data-* attributes and finds or creates the container.
 * 2. Attaches a shadow root with the widget's CSS, so the blog's CSS cannot reach in.
 * 3. Shows the server's HTML rendering of the thread at once (first paint without WASM):
 *    that HTML comes from the server's one escaping renderer, never from reader input.
 * 4. Loads the WASM widget, which takes over without a jump.
 * The build (cargo xtask build-widget) fills in the hashed asset names and the CSS. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var d = script.dataset;
  var base = new URL(".", script.src).href.replace(/\/$/, "");
  var site = d.site;
  if (!site) { console.error("talkback: add data-site to the script tag"); return; }
  var html = document.documentElement;
  var ogTitle = document.querySelector('meta[property="og:title"]');
  var config = {
    api: base,
    site: site,
    // The query too: on plain permalinks (/?p=4) it names the post. The server keeps only the
    // parameters that name a page on this site (tracking ones go).
    page: d.page || location.pathname + location.search,
    title: d.title || (ogTitle && ogTitle.content) || document.title || null,
    url: location.href.split("#")[0],
    lang: d.lang || html.lang || "en"
  };

  var host = d.target ? document.querySelector(d.target) : null;
  if (!host) {
    host = document.createElement("div");
    host.id = "talkback";
    script.parentNode.insertBefore(host, script.nextSibling);
  }
  if (host.__talkback) return;
  host.__talkback = true;
  var shadow = host.shadowRoot || host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = __TALKBACK_CSS__;
  var root = document.createElement("div");
  root.className = "tb-root";
  root.setAttribute("part", "root");
  var pre = document.createElement("div");
  pre.className = "tb-prerender";
  pre.setAttribute("aria-busy", "true");
  root.appendChild(pre);
  shadow.appendChild(style);
  shadow.appendChild(root);

  // Light or dark: data-theme wins; "auto" follows a dark class or data-theme on <html>,
  // then the reader's system preference.
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function theme() {
    var wanted = (d.theme || "auto").toLowerCase();
    if (wanted === "light" || wanted === "dark") return wanted;
    var hostTheme = (html.getAttribute("data-theme") || html.getAttribute("data-bs-theme") || "").toLowerCase();
    if (hostTheme === "dark" || hostTheme === "light") return hostTheme;
    if (html.classList.contains("dark") || (document.body && document.body.classList.contains("dark"))) return "dark";
    if (html.classList.contains("light")) return "light";
    return media && media.matches ? "dark" : "light";
  }
  function applyTheme() { root.setAttribute("data-tb-theme", theme()); }
  applyTheme();
  if (media && media.addEventListener) media.addEventListener("change", applyTheme);
  if (window.MutationObserver) {
    new MutationObserver(applyTheme).observe(html, { attributes: true, attributeFilter: ["class", "data-theme", "data-bs-theme"] });
  }

  var query = "site=" + encodeURIComponent(config.site) + "&page=" + encodeURIComponent(config.page) +
    "&lang=" + encodeURIComponent(config.lang) + (config.title ? "&title=" + encodeURIComponent(config.title) : "");
  fetch(base + "/api/v1/threads/html?" + query)
    .then(function (r) { return r.ok ? r.text() : ""; })
    .then(function (markup) { if (pre.isConnected && markup) pre.innerHTML = markup; })
    .catch(function () {});

  import(base + "/assets/__TALKBACK_JS__")
    .then(function (m) {
      return m.default({ module_or_path: base + "/assets/__TALKBACK_WASM__" }).then(function () {
        m.mount(root, pre, config);
      });
    })
    .catch(function (e) { console.error("talkback: widget failed to load", e); });
})();
