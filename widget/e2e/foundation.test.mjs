// The foundation's promise, as a reader lives it: open the demo post, comment, reply, and
// find both again after the server restarts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, widgetReady, postComment, screenshot } from "./helpers.mjs";

test("a reader posts a comment and a reply, and both survive a server restart", async () => {
  let server = await startServer();
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(server.base + "/");
    await widgetReady(page);
    await postComment(page, { name: "Ada Reader", email: "ada@example.com", body: "First! *Lovely* post." });
    const first = page.locator(".tb-list > .tb-comment").first();
    await first.locator(".tb-body em", { hasText: "Lovely" }).waitFor();
    await first.locator(".tb-actions button", { hasText: "Reply" }).click();
    await postComment(page, { name: "Bob", body: "Replying to Ada." }, page.locator("form.tb-form-inline"));
    await first.locator(".tb-replies .tb-comment .tb-body", { hasText: "Replying to Ada." }).waitFor();
    assert.equal(await page.locator(".tb-count").textContent(), "2 Responses to “A Working Smarter Conversation”");
    await screenshot(page, "foundation-after-post");

    await server.stop();
    server = await startServer({ dir: server.dir });
    await page.goto(server.base + "/");
    await widgetReady(page);
    const again = page.locator(".tb-list > .tb-comment").first();
    assert.equal(await again.locator(".tb-author").first().textContent(), "Ada Reader");
    assert.equal(await again.locator(".tb-replies .tb-author").textContent(), "Bob");
    await screenshot(page, "foundation-after-restart");
  } finally {
    await browser.close();
    await server.stop();
  }
});
