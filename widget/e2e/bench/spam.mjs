// Reader side of `cargo xtask bench --spam`: real-looking comments (the held-back part of the
// spam filter's reader corpus) typed into the widget in Chromium at a person's pace, on the
// default anti-spam rules; then the proof of work's solve time in the page. Prints figures,
// asserts nothing. Usage: node spam.mjs TALKBACK_BASE HAM_TSV
import { readFileSync } from "node:fs";
import { launch, widgetReady } from "../helpers.mjs";

const [base, hamFile] = process.argv.slice(2);
const READERS = 16;
const pages = ["/", "/modern/"];
const readers = readFileSync(hamFile, "utf8").split("\n").filter((l) => l.trim())
  .filter((_, i) => i % 5 === 0)
  .map((l) => { const [name, website, body] = l.split("\t"); return { name, website, body: body.replaceAll("\\n", "\n") }; })
  .slice(0, READERS);
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const pick = (xs, q) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * q))];

const browser = await launch();
const waits = [];
let shown = 0, held = 0, failed = 0;
try {
  for (const [i, r] of readers.entries()) {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(base + pages[i % pages.length]);
    await widgetReady(tab);
    const form = tab.locator("form.tb-form:not(.tb-form-inline)");
    const began = Date.now();
    await form.locator("textarea").click();
    await form.locator("textarea").fill(r.body);
    await form.locator('input[type="text"]').fill(r.name);
    await form.locator('input[type="email"]').fill(`${r.name.split(" ")[0].toLowerCase()}@example.net`);
    if (r.website) await form.locator('input[type="url"]').fill(r.website);
    // Nobody writes a comment in under a few seconds.
    await tab.waitForTimeout(Math.max(0, 3500 - (Date.now() - began)));
    const clicked = Date.now();
    const response = tab.waitForResponse((res) => res.url().endsWith("/api/v1/comments") && res.request().method() === "POST");
    await form.locator('button[type="submit"]').click();
    const res = await response;
    waits.push(Date.now() - clicked);
    const json = await res.json().catch(() => ({}));
    if (res.status() !== 201) failed++;
    else if (json.comment?.pending) held++;
    else shown++;
    await context.close();
  }
  console.log(`readers through the widget (default rules, moderation none): ${readers.length} posted, ` +
    `${shown} shown at once, ${held} held, ${failed} refused`);
  console.log(`  click → 201: median ${pick(waits, 0.5)} ms, max ${Math.max(...waits)} ms ` +
    `(the proof was solved while they typed)`);

  const tab = await browser.newPage();
  await tab.goto(base + "/");
  await widgetReady(tab);
  const times = [];
  for (let i = 0; i < 30; i++) {
    times.push(await tab.evaluate(async () => {
      const root = document.querySelector("#talkback").shadowRoot.querySelector(".tb-root");
      const t = performance.now();
      await root.tbProof();
      return performance.now() - t;
    }));
  }
  console.log(`proof of work in Chromium at the default difficulty (fetch + solve, 30 runs): ` +
    `median ${pick(times, 0.5).toFixed(0)} ms, p90 ${pick(times, 0.9).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms (target median ≤ 300 ms)`);
} finally {
  await browser.close();
}
