// Live updates in the widget: two Chromium pages on one thread. A comment posted in one waits
// behind "Show new comments" in the other; a reply to the reader's own comment appears in
// place at once; edits and deletions apply live; after a dropped connection, and while the
// tab is hidden, nothing is missed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, widgetReady, postComment, screenshot } from "./helpers.mjs";

let browser, server;
before(async () => {
  browser = await launch();
  server = await startServer();
});
after(async () => { await browser?.close(); await server?.stop(); });

async function api(method, path, body, headers = {}) {
  const res = await fetch(server.base + "/api/v1" + path, {
    method, headers: { "content-type": "application/json", ...headers }, body: body && JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** A reader's page on the demo post, widget ready and following the thread. */
async function reader() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.base}/`);
  await widgetReady(page);
  return { context, page };
}

const body = (page, text) => page.locator(".tb-body", { hasText: text });

test("a comment from another reader waits behind a button; replies to mine appear at once", async () => {
  const ann = await reader();
  const bob = await reader();
  await postComment(ann.page, { name: "Ann", body: "Ann asks: which glue for oak?" });
  await body(ann.page, "which glue for oak").waitFor();

  // Bob sees Ann's comment behind the button within 2 s, not in the thread yet.
  const button = bob.page.getByRole("button", { name: "Show new comments (1)" });
  await button.waitFor({ timeout: 2000 });
  assert.equal(await body(bob.page, "which glue for oak").count(), 0);
  await screenshot(bob.page, "live-new-comments-button");
  await button.click();
  await body(bob.page, "which glue for oak").waitFor();
  assert.equal(await bob.page.getByRole("button", { name: /new comments/ }).count(), 0, "the button goes once shown");
  assert.match(await bob.page.locator(".tb-count").innerText(), /One Response/);

  // Bob replies to Ann: it appears in place in Ann's page at once, no button.
  await bob.page.locator(".tb-comment", { hasText: "which glue for oak" }).getByRole("button", { name: "Reply" }).first().click();
  await postComment(bob.page, { name: "Bob", body: "Bob: PVA, type II." }, bob.page.locator("form.tb-form-inline"));
  await body(ann.page, "PVA, type II").waitFor({ timeout: 2000 });
  assert.equal(await ann.page.getByRole("button", { name: /new comments/ }).count(), 0);
  await screenshot(ann.page, "live-reply-in-place");

  // An edit and a deletion by the server's API reach both pages.
  const thread = (await api("GET", "/threads?site=demo&page=/")).body;
  const annId = thread.comments.find((c) => c.author === "Ann").id;
  const editKey = await ann.page.evaluate((id) => {
    for (const k of Object.keys(localStorage)) {
      try {
        const v = JSON.parse(localStorage.getItem(k));
        const c = Array.isArray(v) && v.find((c) => c && c.id === id);
        if (c) return c.key;
      } catch { /* not ours */ }
    }
  }, annId);
  assert.ok(editKey, "Ann's browser holds her edit key");
  const edited = await api("PUT", `/comments/${annId}`, { body: "Ann asks: which glue for white oak?" }, { "x-talkback-edit-key": editKey });
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  await body(bob.page, "which glue for white oak").waitFor({ timeout: 2000 });
  await ann.context.close();
  await bob.context.close();
});

test("after a dropped connection, and while the tab was hidden, nothing is missed", async () => {
  const cy = await reader();
  // The network drops; two comments are written meanwhile.
  await cy.context.setOffline(true);
  await api("POST", "/comments", { site: "demo", page: "/", author: "Dee", body: "Dee wrote while Cy was offline." });
  await api("POST", "/comments", { site: "demo", page: "/", author: "Eve", body: "Eve too." });
  await new Promise((r) => setTimeout(r, 500));
  await cy.context.setOffline(false);
  // The browser reconnects with Last-Event-ID and the server sends what was missed.
  await cy.page.getByRole("button", { name: "Show new comments (2)" }).waitFor({ timeout: 10000 });

  // A hidden tab closes its stream; back in view it resumes from the last event it saw.
  await cy.page.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await api("POST", "/comments", { site: "demo", page: "/", author: "Fay", body: "Fay, while the tab was hidden." });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await cy.page.getByRole("button", { name: "Show new comments (2)" }).count(), 1, "paused");
  await cy.page.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  const button = cy.page.getByRole("button", { name: "Show new comments (3)" });
  await button.waitFor({ timeout: 5000 });
  await button.click();
  for (const text of ["while Cy was offline", "Eve too.", "while the tab was hidden"]) {
    await body(cy.page, text).waitFor();
  }
  await screenshot(cy.page, "live-after-reconnect");
  await cy.context.close();
});

/** The number in the thread's heading ("No", "One", "12" Responses). */
async function shownCount(page) {
  const text = await page.locator(".tb-count").first().innerText();
  const word = /^(\w+) Responses?/.exec(text)?.[1];
  return word === "No" ? 0 : word === "One" ? 1 : Number(word);
}

test("a comment deleted above a reply becomes a tombstone for every reader, counted out once", async () => {
  const gil = await reader();
  const hal = await reader();
  await postComment(gil.page, { name: "Gil", body: "Gil: soon to be deleted." });
  await body(gil.page, "soon to be deleted").waitFor();
  await hal.page.getByRole("button", { name: /Show new comments/ }).click();
  const gilsCard = (page) => page.locator(".tb-comment", { hasText: "soon to be deleted" }).first();
  await gilsCard(hal.page).getByRole("button", { name: "Reply" }).first().click();
  await postComment(hal.page, { name: "Hal", body: "Hal answers Gil." }, hal.page.locator("form.tb-form-inline"));
  await body(gil.page, "Hal answers Gil.").waitFor({ timeout: 2000 });
  const before = [await shownCount(gil.page), await shownCount(hal.page)];
  assert.equal(before[0], before[1], "both readers agree");

  await gilsCard(gil.page).getByRole("button", { name: "Delete" }).first().click();
  await gil.page.getByRole("button", { name: "Yes, delete" }).click();
  for (const page of [gil.page, hal.page]) {
    await page.locator(".tb-tombstone").first().waitFor({ timeout: 2000 });
    await body(page, "Hal answers Gil.").waitFor();
    await page.waitForTimeout(300);
    assert.equal(await shownCount(page), before[0] - 1, "one fewer, once");
  }
  await gil.context.close();
  await hal.context.close();
});
