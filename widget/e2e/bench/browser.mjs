// Browser side of `cargo xtask bench`: for the same 200-comment thread, Talkback's widget and
// Isso's, embedded in the same blog page served from a third origin. Prints bytes transferred,
// time to first comment painted and time to interactive (median of runs). Asserts nothing.
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

const server = createServer((req, res) => {
  const which = req.url.includes("isso") ? "isso" : "talkback";
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(page(embeds[which]));
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
      await tab.waitForLoadState("networkidle");
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
