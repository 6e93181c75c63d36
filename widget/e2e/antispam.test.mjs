// The spam defences as readers and bots meet them in Chromium, on the default rules: a reader
// who takes their time is shown at once (the proof of work was solved while they typed); the
// honeypot is off screen, hidden from assistive technology and never reached with Tab; a bot
// that fills every field, and a script that posts JSON, each get a 201 that shows nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, widgetReady, screenshot } from "./helpers.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const total = async (server) =>
  (await (await fetch(`${server.base}/api/v1/threads?site=demo&page=/`)).json()).total;

/** Types a comment like a person: the form's first focus starts the proof of work. */
async function write(page, { name, email, body }, fill = async () => {}) {
  const form = page.locator("form.tb-form:not(.tb-form-inline)");
  const began = Date.now();
  await form.locator("textarea").click();
  await form.locator("textarea").fill(body);
  await form.locator('input[type="text"]').fill(name);
  await form.locator('input[type="email"]').fill(email);
  await fill(form);
  await page.waitForTimeout(Math.max(0, 3300 - (Date.now() - began)));
  const posted = page.waitForResponse((r) => r.url().endsWith("/api/v1/comments") && r.request().method() === "POST");
  await form.locator('button[type="submit"]').click();
  return (await posted).json();
}

test("readers are shown at once; a form-filling bot and a script are not", async () => {
  const server = await startServer({ spam: "" });
  try {
    const page = await browser.newPage();
    await page.goto(`${server.base}/`);
    await widgetReady(page);
    const form = page.locator("form.tb-form:not(.tb-form-inline)");
    await form.locator("textarea").click();
    const trap = form.locator(".tb-trap input");
    await trap.waitFor({ state: "attached" });
    assert.equal(await form.locator(".tb-trap").getAttribute("aria-hidden"), "true");
    assert.equal(await trap.getAttribute("tabindex"), "-1");
    // Visually hidden: a 1×1 box that clips what is inside it.
    const hidden = await form.locator(".tb-trap").evaluate((el) => {
      const r = el.getBoundingClientRect(), css = getComputedStyle(el);
      return { width: r.width, height: r.height, overflow: css.overflow, clip: css.clip };
    });
    assert.ok(hidden.width <= 1 && hidden.height <= 1 && hidden.overflow === "hidden" && hidden.clip.startsWith("rect(0"),
      `the honeypot shows: ${JSON.stringify(hidden)}`);
    const reached = [];
    for (let i = 0; i < 15; i++) {
      await page.keyboard.press("Tab");
      reached.push(await page.evaluate(() => document.querySelector("#talkback").shadowRoot.activeElement?.getAttribute("name") ?? ""));
    }
    assert.ok(!reached.includes("url"), `Tab reached the honeypot: ${reached}`);

    const reader = await write(page, { name: "Patient Reader", email: "pat@example.com",
      body: "I read the whole post before writing this. The part about pruning in late winter matches what my grandmother did." });
    assert.equal(reader.comment.pending, false, JSON.stringify(reader));
    const shown = page.locator(".tb-list > .tb-comment", { hasText: "Patient Reader" });
    await shown.waitFor();
    assert.doesNotMatch(await shown.innerText(), /awaiting moderation/);
    await screenshot(page, "antispam-reader-shown");

    // A bot drives the page and fills every field, the hidden one too.
    const context = await browser.newContext();
    const bot = await context.newPage();
    await bot.goto(`${server.base}/`);
    await widgetReady(bot);
    const posted = await write(bot, { name: "Cheap Pills", email: "pills@spam.example", body: "Visit my pharmacy shop today" },
      (f) => f.locator(".tb-trap input").evaluate((el) => { el.value = "https://pills.example"; }));
    assert.equal(posted.comment.pending, true);
    await bot.locator(".tb-comment", { hasText: "awaiting moderation" }).waitFor();
    await screenshot(bot, "antispam-bot-held");
    await context.close();

    // A script posting JSON straight to the API.
    const res = await fetch(`${server.base}/api/v1/comments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ site: "demo", page: "/", author: "Script", body: "Buy followers now" }),
    });
    assert.equal(res.status, 201);
    assert.equal((await res.json()).comment.pending, true);
    assert.equal(await total(server), 1);
  } finally {
    await server.stop();
  }
});
