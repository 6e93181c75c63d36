// Browser side of `cargo xtask bench`: for the same 200-comment thread, Talkback's widget and
// Isso's, embedded in the same blog page served from a third origin. Prints bytes transferred,
// time to first comment painted and time to interactive (median of runs). Then the lazy widget
// under a long post: what a reader who never scrolls downloads, and the time from the thread
// entering the viewport (one jump, the worst case) to a form a reader can type in. Asserts nothing.
// Usage: node browser.mjs TALKBACK_BASE ISSO_BASE PAGE_KEY
import { createServer } from "node:http";
import { launch } from "../helpers.mjs";

const [talkback, isso, key = "/t200", blogPort = "0"] = process.argv.slice(2);
const RUNS = 5;

const page = (embed) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Bench post</title></head>
<body><article><h1>Bench post</h1><p>Some text.</p></article>${embed}</body></html>`;
const embeds = {
  talkback: `<script src="${talkback}/embed.js" data-site="demo" data-page="${key}" defer></script>`,
  isso: `<script data-isso="${isso}/" src="${isso}/js/embed.min.js"></script><section id="isso-thread" data-isso-id="${key}"></section>`,
};
// In-page probes: when did the first comment appear, when could a reader type?
const probes = {
  talkback: `(() => { const r = document.querySelector("#talkback")?.shadowRoot; return {
      painted: !!r?.querySelector(".tb-comment"), interactive: !!r?.querySelector(".tb-app:not([hidden]) form.tb-form textarea") }; })()`,
  isso: `(() => ({ painted: !!document.querySelector(".isso-comment"), interactive: !!document.querySelector(".isso-comment") && !!document.querySelector(".isso-postbox textarea") }))()`,
};

// A post long enough that its comments start four screens down.
const longPost = (embed) => page(Array.from({ length: 80 }, (_, i) => `<p>Paragraph ${i}: a long post, so the comments start far below the fold.</p>`).join("") + embed);
const server = createServer((req, res) => {
  const which = req.url.includes("isso") ? "isso" : "talkback";
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(req.url.includes("long") ? longPost(embeds.talkback) : page(embeds[which]));
});
await new Promise((r) => server.listen(Number(blogPort), "127.0.0.1", r));
const blog = `http://localhost:${server.address().port}`;
const browser = await launch();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
try {
  for (const which of ["talkback", "isso"]) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext();
      const tab = await context.newPage();
      let bytes = 0;
      const pending = [];
      tab.on("requestfinished", (req) => {
        if (req.url().startsWith(blog)) return;
        pending.push(req.sizes().then((s) => { bytes += s.responseBodySize + s.responseHeadersSize; }).catch(() => {}));
      });
      await tab.addInitScript(`(${(probe) => {
        const t = { painted: null, interactive: null };
        window.__tb = t;
        const tick = () => {
          const s = eval(probe);
          if (s.painted && t.painted === null) t.painted = performance.now();
          if (s.interactive && t.interactive === null) t.interactive = performance.now();
          if (t.interactive === null) requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }})(${JSON.stringify(probes[which])})`);
      await tab.goto(`${blog}/${which}`);
      await tab.waitForFunction(() => window.__tb && window.__tb.interactive !== null, null, { timeout: 60000 });
      // Not "networkidle": Talkback's live stream stays open by design.
      await tab.waitForTimeout(1500);
      await Promise.all(pending);
      const t = await tab.evaluate(() => window.__tb);
      runs.push({ ...t, bytes });
      await context.close();
    }
    results[which] = {
      painted: median(runs.map((r) => r.painted)),
      interactive: median(runs.map((r) => r.interactive)),
      bytes: median(runs.map((r) => r.bytes)),
    };
  }
  const lazy = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const tab = await context.newPage();
    const sizes = [];
    tab.on("requestfinished", (req) => {
      if (req.url().startsWith(blog)) return;
      sizes.push(req.sizes().then((s) => ({ url: req.url(), bytes: s.responseBodySize + s.responseHeadersSize })).catch(() => ({ url: "", bytes: 0 })));
    });
    await tab.goto(`${blog}/long`);
    await tab.waitForLoadState("networkidle");
    await tab.waitForTimeout(300);
    const settled = await Promise.all(sizes);
    const html = settled.filter((s) => s.url.includes("/threads/html")).reduce((a, s) => a + s.bytes, 0);
    const total = settled.reduce((a, s) => a + s.bytes, 0);
    const wasm = settled.some((s) => s.url.endsWith(".wasm"));
    // One jump to the comments; the clock starts when the host enters the viewport.
    const interactive = await tab.evaluate(() => new Promise((done) => {
      const host = document.querySelector("#talkback");
      let entered = null;
      new IntersectionObserver((es) => { if (entered === null && es.some((e) => e.isIntersecting)) entered = performance.now(); }).observe(host);
      const tick = () => {
        if (entered !== null && host.shadowRoot.querySelector(".tb-app:not([hidden]) form.tb-form textarea")) {
          // Where the time went: each request the widget made, from the thread entering view.
          const at = (re) => performance.getEntriesByType("resource").filter((e) => re.test(e.name) && e.startTime >= entered - 50)
            .map((e) => `${(e.startTime - entered).toFixed(0)}–${(e.responseEnd - entered).toFixed(0)}`)[0] ?? "-";
          return done({ total: performance.now() - entered, glue: at(/talkback-[^/]*\.js$/), wasm: at(/\.wasm$/), thread: at(/\/api\/v1\/threads\?/) });
        }
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
      host.scrollIntoView();
    }));
    lazy.push({ html, beyond: total - html, wasm, interactive });
    await context.close();
  }
  results.lazy = {
    html: median(lazy.map((r) => r.html)),
    beyond: median(lazy.map((r) => r.beyond)),
    wasm: lazy.some((r) => r.wasm),
    interactive: median(lazy.map((r) => r.interactive.total)),
    phases: lazy.map((r) => `glue ${r.interactive.glue}, wasm ${r.interactive.wasm}, thread JSON ${r.interactive.thread}`),
  };
} finally {
  await browser.close();
  server.close();
}
const row = (name, r) => `${name.padEnd(10)} ${String(Math.round(r.bytes)).padStart(10)} B ${r.painted.toFixed(0).padStart(8)} ms ${r.interactive.toFixed(0).padStart(8)} ms`;
console.log(`\nbrowser, ${key} (median of ${RUNS} cold loads, Chromium headless, loopback):`);
console.log(`${"widget".padEnd(10)} ${"transfer".padStart(12)} ${"1st paint".padStart(11)} ${"interactive".padStart(11)}`);
console.log(row("talkback", results.talkback));
console.log(row("isso", results.isso));
console.log(`ratio isso/talkback: transfer ${(results.isso.bytes / results.talkback.bytes).toFixed(2)}x, first comment ${(results.isso.painted / results.talkback.painted).toFixed(2)}x, interactive ${(results.isso.interactive / results.talkback.interactive).toFixed(2)}x`);
const l = results.lazy;
console.log(`\nlazy widget under a long post, ${key} (median of ${RUNS}):`);
console.log(`reader who never scrolls: thread HTML ${l.html} B + ${l.beyond} B beyond it (embed.js and the rest; WASM fetched: ${l.wasm ? "yes" : "no"})`);
console.log(`thread enters the viewport (one jump) → form ready: ${l.interactive.toFixed(0)} ms`);
console.log(`  requests, ms after it entered (each run): ${l.phases.join("; ")}`);
