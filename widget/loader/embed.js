/* Talkback embed loader. A classic script (document.currentScript must work), no framework.
 * 1. Reads its data-* attributes and finds or creates the container.
 * 2. Attaches a shadow root with the widget's CSS, so the blog's CSS cannot reach in.
 * 3. Shows the server's HTML rendering of the thread at once (first paint without WASM):
 *    that HTML comes from the server's one escaping renderer, never from reader input.
 * 4. Loads the WASM widget when it is needed: the thread comes near the viewport, or the reader
 *    focuses the (inert) form of the first paint or presses Reply there. The widget takes over
 *    without a jump, with what was typed and where the caret was.
 * 5. Once the reader starts on the form, fetches a signed challenge and solves its proof of work
 *    in a Web Worker (plain JS, WebCrypto) while they type; the widget sends the answer.
 * 6. Follows the thread live (Server-Sent Events, paused while the tab is hidden, resumed from
 *    the last event seen) and hands each event to the widget.
 * With data-view="recent" it shows the site's latest comments instead (server-rendered, no
 * widget), data-limit of them (5 by default).
 * The build (cargo xtask build-widget) fills in the hashed asset names and the CSS. */
(function () {
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
  var recent = d.view == "recent";
  if (!host) {
    host = document.createElement("div");
    host.id = recent ? "talkback-recent" : "talkback";
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

  function paint(path) {
    return fetch(base + "/api/v1/" + path)
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (markup) { if (pre.isConnected && markup) pre.innerHTML = markup; })
      .catch(function () {});
  }
  // A site's recent comments (a sidebar): the server's HTML, no widget.
  if (recent) {
    paint("recent/html?site=" + encodeURIComponent(site) + "&limit=" + encodeURIComponent(d.limit || 5) + "&lang=" + encodeURIComponent(config.lang))
      .then(function () { pre.removeAttribute("aria-busy"); });
    return;
  }

  var query = "site=" + encodeURIComponent(config.site) + "&page=" + encodeURIComponent(config.page) +
    "&lang=" + encodeURIComponent(config.lang) + (config.title ? "&title=" + encodeURIComponent(config.title) : "");
  paint("threads/html?form=true&" + query);

  // The proof of work: find n in 0..max with SHA-256(salt + n) = challenge. Self-contained, as
  // it is also the worker's source; batches of digests keep WebCrypto busy, and each await
  // yields, so the page stays responsive where no worker can run.
  function find(c) {
    var enc = new TextEncoder(), n = 0, lead = parseInt(c.challenge.slice(0, 2), 16);
    function next() {
      var batch = [], first = n;
      for (; batch.length < 400 && n <= c.max; n++) batch.push(crypto.subtle.digest("SHA-256", enc.encode(c.salt + n)));
      return Promise.all(batch).then(function (hashes) {
        for (var j = 0; j < hashes.length; j++) {
          var b = new Uint8Array(hashes[j]);
          if (b[0] === lead && Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("") === c.challenge) return first + j;
        }
        return n > c.max ? -1 : next();
      });
    }
    return next();
  }
  function solve(c) {
    return new Promise(function (done) {
      var w;
      try {
        w = new Worker(URL.createObjectURL(new Blob(["onmessage=function(e){(" + find + ")(e.data).then(postMessage)}"])));
      } catch (e) { return done(find(c)); }
      w.onmessage = function (e) { w.terminate(); done(e.data); };
      // A page whose CSP forbids blob: workers: solve here.
      w.onerror = function () { w.terminate(); done(find(c)); };
      w.postMessage(c);
    });
  }
  function challenge() {
    var p = fetch(base + "/api/v1/challenge?site=" + encodeURIComponent(site) + "&page=" + encodeURIComponent(config.page))
      .then(function (r) { return r.json(); })
      .then(function (c) { return solve(c).then(function (n) { return { p: c.token + "." + n, e: c.expires }; }); });
    p.catch(function () {});
    return p;
  }
  // The honeypot: a field people never see (off screen, hidden from screen readers, out of the
  // tab order) that form-filling bots fill in. Static markup: nothing of a reader's.
  function trap(form) {
    if (!form.querySelector(".tb-trap")) {
      form.insertAdjacentHTML("beforeend", '<p class="tb-sr tb-trap" aria-hidden="true"><input name="url" tabindex="-1" autocomplete="off"></p>');
    }
    return form.querySelector(".tb-trap input").value;
  }
  var pending = null;
  root.addEventListener("focusin", function (e) {
    if (pre.contains(e.target)) focused = e.target;
    load();
    if (e.target.form) trap(e.target.form);
    if (!pending) pending = challenge();
  });
  // The widget asks, from a form's text field, for a proof when it posts; each is used once,
  // and ".1" follows it when the form's honeypot was filled in.
  // (A root without one, a Leptos app's, throws: the widget then sends no proof.)
  window.talkbackProof = function (field) { return field.closest(".tb-root").tbProof(field.form); };
  root.tbProof = function (form) {
    var p = pending || challenge();
    pending = null;
    return p.then(function (s) { return s.e - Date.now() > 6e4 ? s : challenge(); })
      .then(function (s) { return s.p + (trap(form) ? ".1" : ""); }, function () { return ""; });
  };

  // Live updates, opened before the widget loads its thread so nothing falls in between;
  // events wait in a queue until the widget takes them (it ignores what it already shows).
  var last = "", queue = [], live;
  function follow() {
    live = new EventSource(base + "/api/v1/live?site=" + encodeURIComponent(site) + "&page=" + encodeURIComponent(config.page) + (last && "&since=" + last));
    function seen(e) { if (e.lastEventId) last = e.lastEventId; }
    live.addEventListener("ready", seen);
    live.addEventListener("update", function (e) {
      seen(e);
      var data = JSON.parse(e.data);
      root.tbLive ? root.tbLive(data) : queue.push(data);
    });
  }
  document.addEventListener("visibilitychange", function () {
    if (!live) return;
    if (document.hidden) live.close();
    else if (live.readyState == 2) follow();
  });

  // What the reader did to the first paint before the widget took over: the field in focus
  // (kept by the focusin listener above), the comment whose Reply was pressed, a submit.
  var focused, reply, submitted;
  root.addEventListener("click", function (e) {
    var b = pre.contains(e.target) && e.target.closest(".tb-actions .tb-btn");
    if (b) { reply = b.closest(".tb-comment").id; load(); }
  });
  root.addEventListener("submit", function (e) { if (pre.contains(e.target)) { e.preventDefault(); submitted = 1; load(); } });
  // The widget removes the first paint once its own thread is up: give it the reader's text
  // (by the fields' shared ids, as input events so its state sees them), caret and intent.
  new MutationObserver(function (_, o) {
    if (pre.isConnected) return;
    o.disconnect();
    pre.querySelectorAll("input,textarea").forEach(function (f) {
      var w = f.value && shadow.getElementById(f.id);
      if (w) { w.value = f.value; w.dispatchEvent(new Event("input", { bubbles: true, composed: true })); }
    });
    var w = focused && shadow.getElementById(focused.id);
    if (w) { w.focus(); try { w.setSelectionRange(focused.selectionStart, focused.selectionEnd); } catch (e) {} }
    // Pingbacks are the server's alone: they move into the widget's thread, above its form.
    w = pre.querySelector(".tb-pingbacks");
    if (w) shadow.querySelector(".tb-app .tb-thread > :last-child").before(w);
    w = reply && shadow.querySelector("#" + reply + " .tb-reply");
    if (w) w.click();
    w = submitted && shadow.querySelector("form.tb-form:not(.tb-form-inline)");
    if (w) w.requestSubmit();
  }).observe(root, { childList: true });

  var loading;
  function load() {
    if (loading) return;
    loading = 1;
    if (near) near.disconnect();
    follow();
    // The thread's first page travels while the WASM does; the widget takes it (or, when
    // this failed, asks again itself and shows why).
    var first = fetch(base + "/api/v1/threads?site=" + encodeURIComponent(site) + "&page=" + encodeURIComponent(config.page) + "&sort=oldest")
      .then(function (r) { return r.ok ? r.json() : Promise.reject(); });
    first.catch(function () {});
    import(base + "/assets/__TALKBACK_JS__")
      .then(function (m) {
        return m.default({ module_or_path: base + "/assets/__TALKBACK_WASM__" }).then(function () {
          m.mount(root, pre, config, first);
          root.querySelectorAll("form").forEach(trap);
          queue.forEach(root.tbLive);
        });
      })
      .catch(function (e) { console.error("talkback: widget failed to load", e); });
  }
  // A reader who never comes near the comments never downloads the widget (data-load="eager"
  // loads it at once).
  var near = window.IntersectionObserver && d.load != "eager" && new IntersectionObserver(function (seen) {
    if (seen.some(function (e) { return e.isIntersecting; })) load();
  }, { rootMargin: "400px" });
  near ? near.observe(host) : load();
})();
