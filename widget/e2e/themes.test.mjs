// Screenshots of both example blogs, light and dark, with a realistic conversation, for
// people to look at (widget/e2e/artifacts/theme-*.png). Also checks that the widget follows
// the reader's colour scheme and the host page's dark class, live.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, widgetReady, screenshot } from "./helpers.mjs";

async function post(server, page, author, body, extra = {}) {
  const res = await fetch(server.base + "/api/v1/comments", {
    method: "POST",
    headers: { "content-type": "application/json" },
    // Addresses are ASCII (the server refuses what a relay without SMTPUTF8 cannot send).
    body: JSON.stringify({ site: "demo", page, author, body, email: `${author.split(" ")[0].toLowerCase().normalize("NFD").replace(/[^\x00-\x7f]/g, "")}@example.com`, ...extra }),
  });
  return (await res.json()).comment.id;
}

async function seed(server, page, title) {
  const a = await post(server, page, "Margaret Holloway", "Thanks for reading! The list is at the bottom of the post.", { title, website: "https://quiet-workshop.example" });
  const b = await post(server, page, "Tom Ellis", "I stopped doing **status meetings** on Fridays. Nobody missed them.\n\n> The best tool is the one you put down at the right moment.\n\nThis line stuck with me.");
  await post(server, page, "Margaret Holloway", "Same here, Tom. We replaced ours with a shared notes file.", { parent: b, website: "https://quiet-workshop.example" });
  const d = await post(server, page, "Priya N.", "Counterpoint: some rituals are the *work*. Which ones did you keep?", { parent: b });
  await post(server, page, "Tom Ellis", "The Monday tea. Non-negotiable.", { parent: d });
  await post(server, page, "Jürgen Weiß", "Wir haben das auch probiert — mit `cron` statt Kalender. Funktioniert.");
  return a;
}

test("example themes, light and dark", async () => {
  const server = await startServer();
  const browser = await launch();
  try {
    await seed(server, "/", "A Working Smarter Conversation");
    await seed(server, "/modern", "Shipping a 2-core Rust service");
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(server.base + "/");
      await widgetReady(page);
      assert.equal(await page.locator(".tb-root").getAttribute("data-tb-theme"), scheme);
      await page.locator(".tb-comment").nth(5).waitFor();
      await page.locator(".tb-count").scrollIntoViewIfNeeded();
      await screenshot(page, `theme-classic-${scheme}`);
    }
    await page.emulateMedia({ colorScheme: "light" });
    await page.goto(server.base + "/modern/");
    await widgetReady(page);
    // The modern page has class="dark" on <html>: the widget follows it over the system scheme.
    assert.equal(await page.locator(".tb-root").getAttribute("data-tb-theme"), "dark");
    await page.locator(".tb-comment").nth(5).waitFor();
    await screenshot(page, "theme-modern-dark");
    await page.evaluate(() => document.documentElement.classList.remove("dark"));
    await page.waitForFunction(() => document.querySelector("#comments").shadowRoot.querySelector(".tb-root").dataset.tbTheme === "light");
    await screenshot(page, "theme-modern-light");
  } finally {
    await browser.close();
    await server.stop();
  }
});
