// Readers without JavaScript (and crawlers): Chromium with JavaScript off reads the thread
// page at /t/{site}?page=…, answers a comment through its plain form and lands back on the
// thread with the comment shown; a refused comment comes back with the error above the form
// and what the reader typed kept. The page is axe-clean.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, screenshot, axeSource } from "./helpers.mjs";

let browser, server;
before(async () => {
  browser = await launch();
  server = await startServer();
  const post = (body) => fetch(`${server.base}/api/v1/comments`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ site: "demo", page: "/2024/roses/", author: body.author, body: body.text, parent: body.parent }),
  }).then((r) => r.json());
  const first = await post({ author: "Margaret", text: "Cutting above an **outward-facing** bud changed everything for me." });
  await post({ author: "Tom", text: "Same here, thanks for the tip!", parent: first.comment.id });
});
after(async () => { await browser?.close(); await server?.stop(); });

test("without JavaScript a reader reads the thread and replies through the plain form", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const response = await page.goto(`${server.base}/t/demo?page=/2024/roses/`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-security-policy"], /default-src 'none'/);
  assert.equal(await page.locator("script").count(), 0, "no script on the page");
  assert.equal(await page.locator("link[rel=canonical]").count(), 1);
  await page.locator(".tb-comment", { hasText: "outward-facing" }).waitFor();
  assert.equal(await page.locator("h1").textContent(), "Comments on “/2024/roses”");
  assert.equal(await page.locator(".tb-count").textContent(), "2 comments");

  // Reply to Margaret: the Reply link sets the form up.
  await page.locator(".tb-comment", { hasText: "Margaret" }).first().locator("a", { hasText: "Reply" }).first().click();
  assert.match(await page.locator("#tb-form h2").textContent(), /Margaret/);
  await page.locator("#tb-body").fill("I tried this on my climbing rose and it worked. Thank you both!");
  await page.locator("#tb-author").fill("Priya");
  await page.locator("#tb-email").fill("priya@example.com");
  await screenshot(page, "nojs-form-filled");
  await Promise.all([page.waitForURL(/#tb-c\d+$/), page.locator("#tb-form button[type=submit]").click()]);
  const reply = page.locator(".tb-replies .tb-comment", { hasText: "Priya" });
  await reply.waitFor();
  assert.match(await reply.textContent(), /climbing rose/);
  assert.equal(await page.locator(".tb-count").textContent(), "3 comments");
  await screenshot(page, "nojs-thread-after-reply");

  // The widget's readers see it too.
  const thread = await (await fetch(`${server.base}/api/v1/threads?site=demo&page=/2024/roses/`)).json();
  assert.equal(thread.total, 3);
  await context.close();
});

test("a refused comment comes back with the error above the form and the text kept", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${server.base}/t/demo?page=/2024/roses/&lang=de`);
  await page.locator("#tb-body").fill("Mein Kommentar, bitte nicht verlieren.");
  await page.locator("#tb-website").fill("ftp://not-a-website.example");
  // A valid URL to the browser, but not a website to the server (http or https only).
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/t/demo/comment")),
    page.locator("#tb-form button[type=submit]").click(),
  ]);
  assert.equal(answer.status(), 400);
  const error = page.locator(".tb-error");
  await error.waitFor();
  assert.match(await error.textContent(), /Website|Webseite|Adresse/i);
  assert.equal(await page.locator("#tb-body").inputValue(), "Mein Kommentar, bitte nicht verlieren.");
  await screenshot(page, "nojs-error");
  await context.close();
});

test("the thread page is axe-clean", async () => {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${server.base}/t/demo?page=/2024/roses/`);
  await page.addScriptTag({ content: axeSource() });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  assert.deepEqual(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(" ")}`), []);
  await context.close();
});
