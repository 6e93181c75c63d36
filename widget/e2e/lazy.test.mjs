// The widget is loaded only when it is needed: a reader who never comes near the comments gets
// the embed script and the server's first paint, never the WASM; scrolling to the thread loads
// it; focusing the first paint's form or pressing its Reply loads it too, and what the reader
// typed meanwhile (every keystroke, the caret) is carried into the widget.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, startBlog, launch, widgetReady, screenshot, axeSource, SCRIPTED_SEEDS, ARTIFACTS } from "./helpers.mjs";

let browser, server, blog;
const LONG_POST = Array.from({ length: 60 }, (_, i) => `<p>Paragraph ${i} of a long post about joinery, glue and patience.</p>`).join("");
before(async () => {
  browser = await launch();
  blog = await startBlog(() => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Long post</title></head>
    <body><article><h1>Long post</h1>${LONG_POST}</article>
    <script src="${server.base}/embed.js" data-site="lazy" data-page="/long" defer></script></body></html>`);
  server = await startServer({ extraSites: `[[sites]]\nid = "lazy"\norigins = ["${blog.origin}"]\n${SCRIPTED_SEEDS}` });
  for (const text of ["First comment on the long post.", "Second comment, for replying to."]) {
    const res = await fetch(server.base + "/api/v1/comments", {
      method: "POST", headers: { "content-type": "application/json", origin: blog.origin },
      body: JSON.stringify({ site: "lazy", page: "/long", author: "Seeder", body: text }),
    });
    assert.equal(res.status, 201);
  }
});
after(async () => { await browser?.close(); await server?.stop(); await blog?.close(); });

/** A fresh reader on the long post, recording which of the widget's assets were fetched;
 * `hold`: the WASM's response waits until `release()` (a slow network, made deterministic). */
async function reader({ hold = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  let release = () => {};
  if (hold) {
    const held = new Promise((r) => { release = r; });
    await page.route("**/*.wasm", async (route) => { await held; await route.continue(); });
  }
  const fetched = [];
  page.on("request", (r) => { if (r.url().startsWith(server.base)) fetched.push(new URL(r.url()).pathname); });
  await page.goto(blog.origin + "/");
  await page.locator(".tb-prerender .tb-comment").first().waitFor({ state: "attached" });
  return { context, page, fetched, release, widgetFetched: () => fetched.some((p) => p.endsWith(".wasm")) };
}

test("a reader who never scrolls gets the first paint but not the widget; scrolling loads it", async () => {
  const { context, page, fetched, widgetFetched } = await reader();
  await page.waitForLoadState("networkidle");
  await page.waitForTimeout(500);
  assert.ok(!widgetFetched(), `no WASM before the thread is near: ${fetched.join(", ")}`);
  assert.ok(!fetched.some((p) => p.includes("/live")), "no live stream either");
  assert.equal(await page.locator(".tb-prerender form.tb-form").count(), 1, "the first paint has the form's shell");

  await page.locator("#talkback").scrollIntoViewIfNeeded();
  await widgetReady(page);
  assert.ok(widgetFetched());
  assert.equal(await page.locator(".tb-prerender").count(), 0, "the widget took over");
  assert.ok(fetched.some((p) => p.includes("/live")), "the live stream opens with the widget");
  await context.close();
});

test("typing into the first paint's form before the widget is there loses nothing", async () => {
  const { context, page, widgetFetched, release } = await reader({ hold: true });
  // Focus without scrolling (a keyboard user tabbing in), then type while the WASM is on its way.
  await page.locator(".tb-prerender #tb-body-top").evaluate((t) => t.focus({ preventScroll: true }));
  await page.keyboard.type("Hello from a fast typist", { delay: 5 });
  await page.waitForTimeout(100);
  assert.ok(widgetFetched(), "focus asked for the widget");
  assert.equal(await page.locator(".tb-prerender").count(), 1, "still the first paint");
  release();
  await widgetReady(page);
  await page.keyboard.type(", still typing.");
  const body = page.locator(".tb-app form.tb-form:not(.tb-form-inline) textarea");
  assert.equal(await body.inputValue(), "Hello from a fast typist, still typing.");
  assert.ok(widgetFetched());
  assert.equal(await body.evaluate((t) => t.getRootNode().activeElement === t), true, "the caret moved with the text");
  // The widget's state has the text: preview and post use it.
  await page.locator('.tb-app input[type="text"]').fill("Fast Typist");
  await page.locator('.tb-app form.tb-form:not(.tb-form-inline) button[type="submit"]').click();
  await page.locator(".tb-body", { hasText: "Hello from a fast typist, still typing." }).waitFor();
  await screenshot(page, "lazy-typed-before-load");
  await context.close();
});

test("pressing Reply in the first paint opens the reply form once the widget is there", async () => {
  const { context, page, release } = await reader({ hold: true });
  await page.locator(".tb-prerender .tb-comment", { hasText: "Second comment" }).locator(".tb-actions .tb-btn").evaluate((b) => b.click());
  release();
  const inline = page.locator(".tb-comment", { hasText: "Second comment" }).locator("form.tb-form-inline");
  await inline.waitFor({ timeout: 30000 });
  assert.match(await inline.locator(".tb-form-title").innerText(), /Seeder/);
  await context.close();
});

test("the first paint's form looks like the widget's and is accessible", async () => {
  const { context, page, release } = await reader({ hold: true });
  const shell = page.locator(".tb-prerender form.tb-form");
  await shell.evaluate((f) => f.scrollIntoView({ block: "end" }));
  // The first paint as the reader sees it while the WASM is on its way; then the widget's form.
  await page.waitForTimeout(200);
  const before = await shell.boundingBox();
  await page.screenshot({ path: `${ARTIFACTS}/lazy-first-paint-form.png` });
  const axe = () => page.evaluate(async (source) => {
    if (!window.axe) eval(source);
    const result = await window.axe.run(document.querySelector("#talkback").shadowRoot.querySelector(".tb-root"));
    return result.violations.filter((v) => ["serious", "critical"].includes(v.impact)).map((v) => v.id);
  }, axeSource());
  assert.deepEqual(await axe(), [], "the first paint");
  release();
  await widgetReady(page);
  const after = await page.locator(".tb-app form.tb-form").boundingBox();
  assert.ok(Math.abs(before.height - after.height) < 30, `form heights ${before.height} vs ${after.height}`);
  await page.screenshot({ path: `${ARTIFACTS}/lazy-widget-form.png` });
  await context.close();
});
