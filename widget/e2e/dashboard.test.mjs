// The blogger's side in Chromium: a held comment awaits moderation for its author only, a
// moderator signs in at /admin, finds it, approves it with the keyboard and another reader
// then sees it; bulk decisions; search; accessibility in light and dark.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, widgetReady, postComment, screenshot, axeSource, cliWithInput } from "./helpers.mjs";

const PASSWORD = "correct horse battery";
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** A server whose demo site holds every comment (or, with `open`, none), with the owner `zoe`. */
function moderatedTest(name, body, { open = false } = {}) {
  test(name, async () => {
    const server = await startServer({ extraSites: open ? `moderation = "none"` : `moderation = "all"` });
    try {
      cliWithInput(server.dir, PASSWORD, "admin", "add", "zoe", "--role", "owner", "--password-stdin");
      await body(server);
    } finally {
      await server.stop();
    }
  });
}

async function post(server, author, body) {
  const res = await fetch(server.base + "/api/v1/comments", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ site: "demo", page: "/", author, email: `${author.toLowerCase()}@example.com`, body }),
  });
  assert.equal(res.status, 201);
  return (await res.json()).comment;
}

async function signIn(page, server) {
  await page.goto(`${server.base}/admin`);
  await page.getByLabel("Username").fill("zoe");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Talkback moderation" }).waitFor();
  await page.locator(".tb-list[aria-busy=false]").waitFor();
}

moderatedTest("a held comment awaits moderation for its author, is approved with the keyboard and then shows for everyone", async (server) => {
  const author = await browser.newContext();
  const page = await author.newPage();
  await page.goto(`${server.base}/`);
  await widgetReady(page);
  await postComment(page, { name: "Hana", email: "hana@example.com", body: "Is this thing on?" });
  const mine = page.locator(".tb-comment", { hasText: "Is this thing on?" });
  await mine.locator(".tb-pending").waitFor();
  // After a reload it is still there for its author, still marked.
  await page.reload();
  await widgetReady(page);
  await mine.locator(".tb-pending").waitFor();
  assert.match(await mine.locator(".tb-pending").innerText(), /awaiting moderation/i);
  await screenshot(page, "widget-awaiting-moderation");

  // Another reader sees nothing of it.
  const other = await browser.newContext();
  const reader = await other.newPage();
  await reader.goto(`${server.base}/`);
  await widgetReady(reader);
  assert.equal(await reader.locator(".tb-comment", { hasText: "Is this thing on?" }).count(), 0);

  // The moderator finds it in the queue, with why it was held, and approves it with "a".
  const moderator = await browser.newContext();
  const admin = await moderator.newPage();
  await admin.goto(`${server.base}/admin`);
  await admin.getByLabel("Username").waitFor();
  await screenshot(admin, "dashboard-sign-in");
  await signIn(admin, server);
  const item = admin.locator(".tb-item", { hasText: "Is this thing on?" });
  await item.waitFor();
  assert.match(await item.innerText(), /hana@example\.com/);
  assert.match(await item.innerText(), /Every comment on this site waits for approval/);
  assert.equal(await admin.locator(".tb-item.tb-current").count(), 1);
  await screenshot(admin, "dashboard-queue");
  await admin.keyboard.press("a");
  await admin.getByRole("status").filter({ hasText: "Approved 1 comment." }).waitFor();
  await admin.getByText("Nothing here. All caught up.").waitFor();

  // Now everyone sees it; its author no longer sees it as waiting.
  await reader.reload();
  await widgetReady(reader);
  await reader.locator(".tb-comment", { hasText: "Is this thing on?" }).waitFor();
  await page.reload();
  await widgetReady(page);
  await mine.waitFor();
  assert.equal(await mine.locator(".tb-pending").count(), 0);
  for (const c of [author, other, moderator]) await c.close();
});

moderatedTest("bulk spam from the keyboard and the buttons, then search across statuses", async (server) => {
  for (const [who, text] of [["Bot1", "cheap watches here"], ["Bot2", "cheap watches there"], ["Bot3", "cheap pills"], ["Real", "A thoughtful question about the post"]]) {
    await post(server, who, text);
  }
  const page = await browser.newPage();
  await signIn(page, server);
  assert.equal(await page.locator(".tb-item").count(), 4);
  // j moves down, x selects: the three bots (newest first: Real, Bot3, Bot2, Bot1).
  await page.keyboard.press("j");
  for (let i = 0; i < 3; i++) {
    await page.keyboard.press("x");
    await page.keyboard.press("j");
  }
  await page.getByText("3 selected").waitFor();
  await page.keyboard.press("s");
  await page.getByRole("status").filter({ hasText: "Marked as spam: 3 comments." }).waitFor();
  // Spam stays in the queue view, marked; approve the real one with its own button.
  await page.locator(".tb-item", { hasText: "thoughtful" }).getByRole("button", { name: "Approve" }).click();
  await page.getByRole("status").filter({ hasText: "Approved 1 comment." }).waitFor();
  await page.locator(".tb-list[aria-busy=false]").waitFor();
  assert.equal(await page.locator(".tb-item .tb-status-spam").count(), 3);

  // "/" jumps to search; words match across every status.
  await page.keyboard.press("/");
  await page.keyboard.type("cheap watches");
  await page.getByLabel("Show").selectOption("all");
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator(".tb-list[aria-busy=false]").waitFor();
  await page.waitForFunction(() => document.querySelectorAll(".tb-item").length === 2);
  await screenshot(page, "dashboard-search");

  // Select all on page, delete.
  await page.getByLabel("Select all on page").check();
  await page.getByRole("toolbar").getByRole("button", { name: "Delete" }).click();
  await page.getByRole("status").filter({ hasText: "Deleted 2 comments." }).waitFor();
  await page.getByText("Nothing here. All caught up.").waitFor();
  await page.close();
});

moderatedTest("axe-core finds no serious or critical violations on the dashboard, light and dark", async (server) => {
  await post(server, "Ann", "Waiting, with a [link](https://example.org)");
  // axe is injected as an inline script, which the dashboard's own policy forbids.
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${server.base}/admin`);
  await page.getByLabel("Username").waitFor();
  const check = async (what) => {
    await page.addScriptTag({ content: axeSource() });
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
      const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), [], `${what}, ${scheme}`);
    }
  };
  await check("sign-in");
  await signIn(page, server);
  await page.locator(".tb-item").first().waitFor();
  await check("queue");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "dashboard-queue-dark");
  await context.close();
});

moderatedTest("pin, edit, lock and ban from the dashboard reach the reader's widget", async (server) => {
  await post(server, "Ann", "The first comment");
  await post(server, "Bob", "Call me on 555-1234");
  await post(server, "Eve", "Buy cheap watches");
  const context = await browser.newContext();
  const admin = await context.newPage();
  await signIn(admin, server);
  await admin.getByLabel("Show").selectOption("approved");
  await admin.locator(".tb-item").nth(2).waitFor();
  const item = (text) => admin.locator(".tb-item", { hasText: text });

  await item("555-1234").getByRole("button", { name: "Pin to top" }).click();
  await admin.getByRole("status").filter({ hasText: "Pinned 1 comment." }).waitFor();
  // The list reloads after a decision: wait for the reloaded item before using it.
  await item("555-1234").locator(".tb-flag", { hasText: "Pinned" }).waitFor();
  await item("555-1234").getByRole("button", { name: "Edit" }).click();
  // While editing, the text is the textarea's value, not the item's text: find it by author.
  await item("bob@example.com").getByLabel("New text").fill("Call me on [removed]");
  await item("bob@example.com").getByRole("button", { name: "Save" }).click();
  await admin.getByRole("status").filter({ hasText: "edited by a moderator" }).waitFor();
  await item("[removed]").locator(".tb-text").waitFor();
  await item("cheap watches").getByRole("button", { name: "Ban…" }).click();
  await item("cheap watches").getByLabel("Ban by").selectOption("email");
  // An owner may ban on every site; the comment's own site is the default.
  const where = item("cheap watches").getByLabel("On");
  assert.equal(await where.inputValue(), "site");
  await screenshot(admin, "dashboard-ban");
  await item("cheap watches").getByRole("button", { name: "Ban", exact: true }).click();
  await admin.getByRole("status").filter({ hasText: "Banned eve@example.com on " }).waitFor();
  await item("The first comment").getByRole("button", { name: "Lock thread" }).click();
  await admin.getByRole("status").filter({ hasText: "Thread locked." }).waitFor();
  await item("The first comment").locator(".tb-flag", { hasText: "Thread locked" }).waitFor();
  await screenshot(admin, "dashboard-tools");
  // The audit log names each of those decisions; the pages panel corrects the post's title.
  await admin.getByText("Audit log").click();
  const audit = admin.locator(".tb-audit tbody");
  await audit.locator("tr", { hasText: "lock" }).waitFor();
  for (const action of ["pin", "edit", "ban Email eve@example.com"]) {
    await audit.locator("td", { hasText: action }).first().waitFor();
  }
  // What the spam defences decided, by outcome and reason.
  await admin.getByText("Spam defences").click();
  await admin.locator(".tb-spam-counts td", { hasText: "accepted (all)" }).waitFor();
  await admin.getByText("Pages", { exact: true }).click();
  await admin.getByLabel("Page (key or URL)").fill("/");
  await admin.getByLabel("New title").fill("A Corrected Title");
  await admin.getByRole("button", { name: "Correct the page" }).click();
  await admin.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  await screenshot(admin, "dashboard-audit-and-pages");

  const reader = await browser.newPage();
  await reader.goto(`${server.base}/`);
  await reader.locator(".tb-app:not([hidden]) .tb-notice").waitFor();
  assert.equal(await reader.locator(".tb-notice").innerText(), "Comments are closed.");
  const stored = await (await fetch(`${server.base}/api/v1/threads?site=demo&page=/`)).json();
  assert.equal(stored.title, "A Corrected Title", "the page's title as the owner corrected it");
  assert.equal(await reader.locator("form.tb-form").count(), 0, "no form on a locked thread");
  assert.equal(await reader.locator(".tb-reply").first().isVisible(), false, "no Reply buttons either");
  const first = reader.locator(".tb-list > .tb-comment").first();
  assert.match(await first.innerText(), /Pinned/);
  assert.match(await first.innerText(), /Call me on \[removed\]/);
  assert.match(await first.innerText(), /edited by a moderator/);
  await screenshot(reader, "widget-pinned-and-closed");

  // A banned address's next comment goes quietly to spam.
  const res = await fetch(server.base + "/api/v1/comments", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ site: "demo", page: "/other", author: "Eve", email: "EVE@example.com", body: "again" }),
  });
  assert.equal(res.status, 201);
  assert.equal((await res.json()).comment.pending, true);
  await admin.getByLabel("Show").selectOption("spam");
  await item("again").waitFor();
  assert.match(await item("again").innerText(), /banned/);
  await context.close();
  await reader.close();
}, { open: true });
