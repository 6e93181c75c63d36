// Index pages: count.js fills every data-talkback-count with its page's count in the page's
// language, with one request for all of them, and loads no WASM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, screenshot } from "./helpers.mjs";

test("count.js fills the demo archive page with one request and no WASM", async () => {
  const server = await startServer();
  const browser = await launch();
  try {
    const post = (page, author) => fetch(`${server.base}/api/v1/comments`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ site: "demo", page, author, body: `A comment by ${author} on ${page}.` }),
    }).then((r) => assert.equal(r.status, 201));
    for (const author of ["Ann", "Bob", "Cid"]) await post("/", author);
    await post("/modern/", "Dee");

    const page = await browser.newPage();
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(`${server.base}/archive/`);
    const count = (key) => page.locator(`[data-talkback-count="${key}"]`);
    await assert.doesNotReject(page.waitForFunction(() =>
      document.querySelector('[data-talkback-count="/"]').textContent !== "Comments"));
    assert.equal(await count("/").textContent(), "3 Responses");
    assert.equal(await count("/modern/").textContent(), "One Response");
    assert.equal(await count("/2024/01/sharpening/").textContent(), "No Responses");
    assert.equal(requests.filter((u) => u.endsWith("/api/v1/counts")).length, 1, requests.join("\n"));
    assert.ok(!requests.some((u) => u.endsWith(".wasm")), "no WASM on an index page");
    await screenshot(page, "counts-archive");

    // In the page's language.
    const german = await (await fetch(`${server.base}/api/v1/counts`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ site: "demo", pages: ["/", "/nothing/"], lang: "de" }),
    })).json();
    assert.deepEqual(german.labels, { "/": "3 Antworten", "/nothing/": "Keine Antworten" });
  } finally {
    await browser.close();
    await server.stop();
  }
});
