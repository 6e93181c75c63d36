// Migration as a blogger does it: import the old WordPress export with the CLI, move the
// thread to the demo post's URL, start the server, and read the thread nested in Chromium.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeConfig, cli, startServer, launch, widgetReady, screenshot, ROOT } from "./helpers.mjs";

test("an imported WordPress thread shows nested on the example page", async () => {
  const { dir } = writeConfig();
  const wxr = join(ROOT, "server/tests/fixtures/wordpress.xml");
  assert.match(cli(dir, "import", "--format", "wordpress", wxr, "--site", "demo", "--dry-run"), /^would import 7 comments/);
  assert.match(cli(dir, "import", "--format", "wordpress", wxr, "--site", "demo"), /^imported 7 comments, 0 already present, 3 skipped/);
  assert.match(cli(dir, "import", "--format", "wordpress", wxr, "--site", "demo"), /^imported 0 comments, 7 already present/);
  assert.equal(cli(dir, "remap", "--site", "demo", "--from", "https://quiet-workshop.example/2024/03/working-smarter/", "--to", "/"),
    "moved 6 comments /2024/03/working-smarter -> /\n");
  const server = await startServer({ dir });
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(server.base + "/");
    await widgetReady(page);
    assert.equal(await page.locator(".tb-count").textContent(), "3 Responses to “A Working Smarter Conversation”");
    const top = page.locator(".tb-list > .tb-comment");
    assert.equal(await top.count(), 1);
    const second = top.first().locator(":scope > .tb-replies > .tb-comment");
    assert.equal(await second.locator(":scope > article .tb-author").textContent(), "Margaret Holloway");
    const third = second.locator(":scope > .tb-replies > .tb-comment");
    assert.equal(await third.locator(":scope > article .tb-author").textContent(), "Zoë 日本");
    assert.match(await third.locator(".tb-body").textContent(), /<script>alert\(3\)<\/script> stays text/);
    assert.equal(await top.first().locator(":scope > article time").getAttribute("datetime"), "2024-03-14T10:02:00Z");
    await screenshot(page, "import-wordpress-nested");
  } finally {
    await browser.close();
    await server.stop();
  }
});
