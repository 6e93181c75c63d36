// The server-rendered views around a thread: a blog's sidebar of recent comments
// (data-view="recent", no WASM) and the pingbacks a WordPress import brought, listed under the
// thread and kept when the widget takes over.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer, startBlog, launch, widgetReady, cli, axeSource, ARTIFACTS, ROOT, SCRIPTED_SEEDS } from "./helpers.mjs";

let browser, server, blog;
const POST = "/2024/03/working-smarter/";
before(async () => {
  browser = await launch();
  blog = await startBlog(() => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Working smarter</title>
    <style>body { display: grid; grid-template-columns: 1fr 18rem; gap: 2rem; font-family: Georgia, serif; margin: 2rem; }</style></head>
    <body><main><h1>A Working Smarter Conversation</h1><p>The post.</p>
    <script src="${server.base}/embed.js" data-site="wp" data-page="${POST}" defer></script></main>
    <aside><script src="${server.base}/embed.js" data-site="wp" data-view="recent" data-limit="3" defer></script></aside></body></html>`);
  server = await startServer({ extraSites: `[[sites]]\nid = "wp"\norigins = ["${blog.origin}"]\nshow_pingbacks = true\n${SCRIPTED_SEEDS}` });
  const wxr = join(ROOT, "server/tests/fixtures/wordpress.xml");
  assert.match(cli(server.dir, "import", "--format", "wordpress", wxr, "--site", "wp"), /^imported/);
});
after(async () => { await browser?.close(); await server?.stop(); await blog?.close(); });

test("a sidebar lists the site's recent comments without loading the widget", async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const fetched = [];
  page.on("request", (r) => fetched.push(new URL(r.url()).pathname));
  await page.goto(blog.origin + "/");
  const items = page.locator("#talkback-recent .tb-recent-item");
  await items.first().waitFor();
  assert.equal(await items.count(), 3);
  const first = items.first().locator("a.tb-recent-link");
  assert.match(await first.innerText(), / on “/);
  assert.match(await first.getAttribute("href"), /^https:\/\/quiet-workshop\.example\/.*#tb-c\d+$/);
  assert.equal(await page.locator("#talkback-recent").locator("script, iframe, img").count(), 0);
  const axe = await page.evaluate(async (source) => {
    eval(source);
    const result = await window.axe.run(document.querySelector("#talkback-recent").shadowRoot.querySelector(".tb-root"));
    return result.violations.filter((v) => ["serious", "critical"].includes(v.impact)).map((v) => v.id);
  }, axeSource());
  assert.deepEqual(axe, []);
  await widgetReady(page);
  assert.equal(fetched.filter((p) => p.endsWith(".wasm")).length, 1, "one widget for the thread, none for the sidebar");
  await page.screenshot({ path: join(ARTIFACTS, "recent-sidebar.png") });
  await context.close();
});

test("pingbacks are listed under the comments and stay when the widget takes over", async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  await page.goto(blog.origin + "/");
  await widgetReady(page);
  const pingbacks = page.locator("#talkback .tb-app .tb-pingbacks");
  await pingbacks.waitFor();
  assert.equal(await pingbacks.locator(".tb-form-title").innerText(), "One Pingback");
  assert.equal(await pingbacks.locator("a").getAttribute("href"), "https://another.example/post");
  assert.equal(await page.locator("#talkback .tb-comment", { hasText: "a pingback excerpt" }).count(), 0, "not a comment");
  // Above the form, below the comments.
  const order = await page.evaluate(() => {
    const section = document.querySelector("#talkback").shadowRoot.querySelector(".tb-app .tb-thread");
    return [...section.children].map((e) => e.className.split(" ")[0] || e.tagName);
  });
  assert.ok(order.indexOf("tb-pingbacks") > order.indexOf("tb-list") && order.indexOf("tb-pingbacks") < order.indexOf("tb-form"), order.join(","));
  await page.locator("#talkback .tb-pingbacks").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(ARTIFACTS, "pingbacks-under-thread.png") });
  await context.close();
});
