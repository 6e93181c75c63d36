// One thread per post, wherever the post lives: a blog on WordPress-style plain permalinks
// (/?p=1, /?p=2) gets a thread for each post, and tracking parameters do not split a thread.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, widgetReady, postComment, screenshot } from "./helpers.mjs";

test("posts at /?p=1 and /?p=2 have separate threads; ?utm_source does not make a third", async () => {
  const server = await startServer();
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const open = async (query) => {
      await page.goto(`${server.base}/${query}`);
      await widgetReady(page);
    };
    const bodies = () => page.locator(".tb-list > .tb-comment .tb-body").allTextContents();

    await open("?p=1");
    await postComment(page, { name: "One", body: "On the first post." });
    await page.locator(".tb-body", { hasText: "On the first post." }).waitFor();

    await open("?p=2");
    assert.deepEqual(await bodies(), [], "the second post starts empty");
    await postComment(page, { name: "Two", body: "On the second post." });
    await page.locator(".tb-body", { hasText: "On the second post." }).waitFor();
    await screenshot(page, "pages-second-post");

    await open("?utm_source=newsletter&p=1&fbclid=abc");
    assert.deepEqual(await bodies(), ["On the first post."]);
    assert.equal(await page.locator(".tb-count").textContent(), "One Response to “A Working Smarter Conversation”");

    await open("");
    assert.deepEqual(await bodies(), [], "the blog's front page has its own (empty) thread");

    // The server recorded each post's own URL, tracking parameters stripped.
    const thread = await (await fetch(`${server.base}/api/v1/threads?site=demo&page=${encodeURIComponent("/?p=2")}`)).json();
    assert.equal(thread.page, "/?p=2");
    assert.equal(thread.total, 1);
    await page.close();
  } finally {
    await browser.close();
    await server.stop();
  }
});
