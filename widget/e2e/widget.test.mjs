// The reader's widget in Chromium: threading, editing, paging, preview, errors, offline
// retries, persistence, cross-origin embedding, languages, accessibility and XSS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, startBlog, launch, widgetReady, postComment, screenshot, axeSource, SCRIPTED_SEEDS } from "./helpers.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Each test gets its own server and database, so threads and storage never mix. */
function serverTest(name, body) {
  test(name, async () => {
    const server = await startServer();
    try {
      await body(server);
    } finally {
      await server.stop();
    }
  });
}

/** Opens the demo post and waits for the widget. */
async function openThread(page, server) {
  await page.goto(`${server.base}/`);
  await widgetReady(page);
}

async function api(server, path, body) {
  const res = await fetch(server.base + "/api/v1" + path, {
    method: body ? "POST" : "GET",
    headers: { "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.json();
}

const shadowActive = (page) => page.evaluate(() => {
  const el = document.querySelector("#talkback").shadowRoot.activeElement;
  return el ? `${el.tagName.toLowerCase()}.${el.className}` : null;
});

serverTest("nested replies, edit and delete in the window, tombstones", async (server) => {
  const page = await browser.newPage();
  await openThread(page, server);
  await postComment(page, { name: "Alice", email: "alice@example.com", body: "Top comment" });
  const alice = page.locator(".tb-list > .tb-comment").first();
  await alice.locator(".tb-body", { hasText: "Top comment" }).waitFor();
  await alice.locator(".tb-actions button", { hasText: "Reply" }).first().click();
  await postComment(page, { name: "Bob", body: "Bob answers" }, page.locator("form.tb-form-inline"));
  const bob = alice.locator(".tb-replies > .tb-comment").first();
  await bob.locator(".tb-body", { hasText: "Bob answers" }).waitFor();
  await bob.locator(".tb-actions button", { hasText: "Reply" }).first().click();
  await postComment(page, { name: "Carol", body: "Carol, one level deeper" }, page.locator("form.tb-form-inline"));
  const carol = bob.locator(".tb-replies > .tb-comment").first();
  await carol.locator(".tb-body", { hasText: "Carol, one level deeper" }).waitFor();
  assert.equal(await page.locator(".tb-count").textContent(), "3 Responses to “A Working Smarter Conversation”");

  // Own comments show Edit/Delete with the time left.
  assert.match(await carol.locator(".tb-left").first().textContent(), /min left to edit/);
  await carol.locator(".tb-actions button", { hasText: "Edit" }).first().click();
  await carol.locator(".tb-edit textarea").fill("Carol, **edited**");
  await carol.locator(".tb-edit button", { hasText: "Save" }).click();
  await carol.locator(".tb-body strong", { hasText: "edited" }).waitFor();
  await carol.locator(".tb-edited").first().waitFor();

  // Deleting Bob (who has a reply) leaves a tombstone; deleting Carol then removes both.
  await bob.locator(":scope > article .tb-actions button", { hasText: "Delete" }).click();
  await bob.locator(":scope > article button", { hasText: "Yes, delete" }).click();
  await bob.locator(":scope > article .tb-tombstone", { hasText: "This comment was deleted." }).waitFor();
  assert.equal(await page.locator(".tb-count").textContent(), "2 Responses to “A Working Smarter Conversation”");
  await screenshot(page, "widget-tombstone");
  await page.reload();
  await widgetReady(page);
  await page.locator(".tb-tombstone").waitFor();
  const carolAgain = page.locator(".tb-comment", { hasText: "Carol, edited" }).last();
  await carolAgain.locator(":scope > article .tb-actions button", { hasText: "Delete" }).click();
  await carolAgain.locator(":scope > article button", { hasText: "Yes, delete" }).click();
  await page.locator(".tb-tombstone").waitFor({ state: "detached" });
  assert.equal(await page.locator(".tb-comment").count(), 1);
  assert.equal(await page.locator(".tb-count").textContent(), "One Response to “A Working Smarter Conversation”");
  await page.close();
});

serverTest("deep replies go flat with 'in reply to', long reply lists collapse", async (server) => {
  const top = await api(server, "/comments", { site: "demo", page: "/", author: "Root", body: "root" });
  let parent = top.comment.id;
  for (let i = 1; i <= 5; i++) {
    parent = (await api(server, "/comments", { site: "demo", page: "/", author: `Level ${i}`, body: `depth ${i}`, parent })).comment.id;
  }
  for (let i = 1; i <= 7; i++) {
    await api(server, "/comments", { site: "demo", page: "/", author: `Sibling ${i}`, body: `sibling ${i}`, parent: top.comment.id });
  }
  const page = await browser.newPage();
  await openThread(page, server);
  await page.locator(".tb-inreply", { hasText: "in reply to Level 3" }).waitFor();
  const rootReplies = page.locator(".tb-list > .tb-comment > .tb-replies > .tb-comment");
  assert.equal(await rootReplies.count(), 3, "8 replies collapse to 3");
  // 3 shown, 3 more loaded and 2 the server has not sent yet (it sends 10 replies per comment).
  await page.locator("button", { hasText: "Show 5 more replies" }).click();
  await rootReplies.nth(7).waitFor();
  assert.equal(await rootReplies.count(), 8);
  await screenshot(page, "widget-deep-and-collapsed");
  await page.close();
});

serverTest("a flat reply names its parent the same in the first paint and in the widget", async (server) => {
  const post = (author, body, parent) => api(server, "/comments", { site: "demo", page: "/", author, body, parent });
  let parent = (await post("Root", "root")).comment.id;
  for (let i = 1; i <= 2; i++) parent = (await post(`Level ${i}`, `depth ${i}`, parent)).comment.id;
  const anonymous = await post("", "nameless at depth 3", parent);
  await post("Flat", "depth 4, listed flat", anonymous.comment.id);
  const firstPaint = async () => (await fetch(`${server.base}/api/v1/threads/html?site=demo&page=/`)).text();
  const inReplyTo = async (page) => (await page.locator(".tb-inreply").allTextContents()).map((t) => t.trim());

  assert.match(await firstPaint(), /in reply to Anonymous</);
  const page = await browser.newPage();
  await openThread(page, server);
  assert.deepEqual(await inReplyTo(page), ["in reply to Anonymous"]);

  // Its parent deleted (a tombstone keeps no name), the reply still says what it answers.
  const gone = await fetch(`${server.base}/api/v1/comments/${anonymous.comment.id}`, {
    method: "DELETE", headers: { "x-talkback-edit-key": anonymous.edit_key },
  });
  assert.equal(gone.status, 200);
  assert.match(await firstPaint(), /in reply to a deleted comment</);
  await page.reload();
  await widgetReady(page);
  await page.locator(".tb-tombstone").waitFor();
  assert.deepEqual(await inReplyTo(page), ["in reply to a deleted comment"]);
  await screenshot(page, "widget-flat-reply-to-deleted");
  await page.close();
});

serverTest("a comment with many replies loads them page by page from the server", async (server) => {
  const top = await api(server, "/comments", { site: "demo", page: "/", author: "Popular", body: "so many answers" });
  for (let i = 1; i <= 64; i++) {
    await api(server, "/comments", { site: "demo", page: "/", author: `Answer ${i}`, body: `answer ${i}`, parent: top.comment.id });
  }
  const thread = await api(server, "/threads?site=demo&page=/");
  assert.equal(thread.comments[0].replies.length, 10, "the thread page carries the first 10 replies");
  assert.equal(thread.comments[0].more_replies, 54);
  const page = await browser.newPage();
  const fetched = [];
  page.on("request", (r) => { if (r.url().includes("/api/v1/replies")) fetched.push(r.url()); });
  await openThread(page, server);
  const replies = page.locator(".tb-list > .tb-comment > .tb-replies > .tb-comment");
  assert.equal(await replies.count(), 3);
  await screenshot(page, "widget-replies-collapsed");
  await page.locator("button", { hasText: "Show 61 more replies" }).click();
  await replies.nth(59).waitFor();
  assert.equal(await replies.count(), 60, "10 from the thread page and 50 fetched");
  await page.locator("button", { hasText: "Show 4 more replies" }).click();
  await replies.nth(63).waitFor();
  assert.equal(await replies.count(), 64);
  assert.equal(await page.locator(".tb-more-replies").count(), 0, "nothing left to show");
  assert.equal(fetched.length, 2);
  const names = await replies.locator(":scope > article .tb-author").allTextContents();
  assert.deepEqual(names, Array.from({ length: 64 }, (_, i) => `Answer ${i + 1}`), "oldest first, none twice");
  await screenshot(page, "widget-replies-paged");
  await page.close();
});

serverTest("load more pages through the thread and sorting flips it", async (server) => {
  for (let i = 0; i < 25; i++) {
    await api(server, "/comments", { site: "demo", page: "/", author: `R${String(i).padStart(2, "0")}`, body: `comment ${i}` });
  }
  const page = await browser.newPage();
  await openThread(page, server);
  const top = page.locator(".tb-list > .tb-comment");
  assert.equal(await top.count(), 20);
  await page.locator("button", { hasText: "Load more comments" }).click();
  await top.nth(24).waitFor();
  assert.equal(await top.count(), 25);
  assert.equal(await page.locator("button", { hasText: "Load more comments" }).count(), 0);
  await page.locator(".tb-sort select").selectOption("newest");
  // Wait for the re-sorted first page (R24 was already on screen before the switch).
  await top.first().locator(":scope > article .tb-author", { hasText: "R24" }).waitFor();
  assert.equal(await top.count(), 20, "a new sort starts again at the first page");
  await page.close();
});

serverTest("preview renders Markdown through the server", async (server) => {
  const page = await browser.newPage();
  await openThread(page, server);
  const form = page.locator("form.tb-form");
  await form.locator("textarea").fill("Some **bold** and a [link](https://example.org)\n\n> quoted");
  await form.locator("button", { hasText: "Preview" }).click();
  await form.locator(".tb-preview strong", { hasText: "bold" }).waitFor();
  assert.equal(await form.locator(".tb-preview a").getAttribute("rel"), "nofollow ugc noopener noreferrer");
  assert.equal(await form.locator(".tb-preview blockquote").count(), 1);
  await form.locator("button", { hasText: "Write" }).click();
  assert.equal(await form.locator("textarea").inputValue(), "Some **bold** and a [link](https://example.org)\n\n> quoted");
  await page.close();
});

serverTest("server errors appear next to the field, and nothing is lost", async (server) => {
  const page = await browser.newPage();
  await openThread(page, server);
  const form = page.locator("form.tb-form");
  await postComment(page, { name: "Mallory", website: "javascript:alert(1)", body: "my site" });
  const websiteError = form.locator(".tb-field-error", { hasText: "http:// or https://" });
  await websiteError.waitFor();
  assert.equal(await form.locator('input[type="url"]').getAttribute("aria-invalid"), "true");
  assert.equal(await form.locator("textarea").inputValue(), "my site");
  await form.locator('input[type="url"]').fill("");
  await form.locator("textarea").fill("x".repeat(17000));
  await form.locator('button[type="submit"]').click();
  await form.locator(".tb-field-error", { hasText: "longer than 16384 bytes" }).waitFor();
  assert.equal(await page.locator(".tb-list > .tb-comment").count(), 0);
  await page.close();
});

serverTest("network down: a visible retry, the draft survives, then it posts", async (server) => {
  const page = await browser.newPage();
  await openThread(page, server);
  await page.route("**/api/v1/comments", (route) => route.abort("internetdisconnected"));
  await postComment(page, { name: "Nomad", body: "Written on a train" });
  const alert = page.locator(".tb-error", { hasText: "Could not reach" });
  await alert.waitFor();
  await screenshot(page, "widget-offline-retry");
  // A reload keeps the draft (and the name) even though nothing was sent.
  await page.reload();
  await widgetReady(page);
  const form = page.locator("form.tb-form");
  assert.equal(await form.locator("textarea").inputValue(), "Written on a train");
  assert.equal(await form.locator('input[type="text"]').inputValue(), "Nomad");
  await form.locator('button[type="submit"]').click();
  await alert.waitFor();
  await page.unroute("**/api/v1/comments");
  await page.locator("button", { hasText: "Retry" }).click();
  await page.locator(".tb-body", { hasText: "Written on a train" }).waitFor();
  await page.reload();
  await widgetReady(page);
  assert.equal(await form.locator("textarea").inputValue(), "", "the draft is cleared once posted");
  assert.equal(await form.locator('input[type="text"]').inputValue(), "Nomad", "the name is remembered");
  await page.close();
});

serverTest("keyboard only: labels, focus moves to the new comment, aria-live announces it", async (server) => {
  const page = await browser.newPage();
  await openThread(page, server);
  await page.locator("form.tb-form textarea").focus();
  await page.keyboard.type("Typed without a mouse");
  await page.keyboard.press("Tab"); // Name
  await page.keyboard.type("Kim");
  await page.keyboard.press("Tab"); // E-mail
  await page.keyboard.press("Tab"); // Website
  await page.keyboard.press("Tab"); // Post
  assert.match(await shadowActive(page), /^button\.tb-btn tb-primary/);
  await page.keyboard.press("Enter");
  await page.locator(".tb-body", { hasText: "Typed without a mouse" }).waitFor();
  await page.waitForFunction(() => document.querySelector("#talkback").shadowRoot.activeElement?.classList.contains("tb-card"));
  assert.equal(await page.locator("[aria-live]").first().textContent(), "Your comment was posted.");
  for (const id of ["tb-body-top", "tb-name-top", "tb-email-top", "tb-website-top"]) {
    assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, `label for ${id}`);
  }
  await page.close();
});

serverTest("axe-core finds no serious or critical violations", async (server) => {
  const page = await browser.newPage();
  const first = await api(server, "/comments", { site: "demo", page: "/", author: "Ann", website: "https://ann.example", body: "Hello with a [link](https://example.org) and `code`" });
  await api(server, "/comments", { site: "demo", page: "/", author: "Ben", body: "> quote\n\nreply", parent: first.comment.id });
  await openThread(page, server);
  await postComment(page, { name: "Me", body: "My own comment, editable" });
  await page.locator(".tb-left").first().waitFor();
  await page.addScriptTag({ content: axeSource() });
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    const results = await page.evaluate(() => window.axe.run(document.querySelector("#talkback"), { resultTypes: ["violations"] }));
    const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), [], scheme);
  }
  await page.close();
});

serverTest("hostile bodies, names and websites stay text and never run", async (server) => {
  const page = await browser.newPage();
  await openThread(page, server);
  page.on("dialog", () => { throw new Error("a dialog opened: script ran"); });
  const payloads = [
    "<img src=x onerror=window.__xss=1>",
    "<script>window.__xss=2</script>",
    "[click me](javascript:window.__xss=3)",
    "<details open ontoggle=window.__xss=4>x</details>",
    "\"><svg/onload=window.__xss=5>",
  ];
  for (const body of payloads) {
    await api(server, "/comments", { site: "demo", page: "/", author: "<b onmouseover=window.__xss=6>Eve</b>", website: "https://e.example/x?a=1&b=2", body });
  }
  for (const website of ["javascript:window.__xss=7", "https://e.example/\"onmouseover=window.__xss=8"]) {
    const refused = await api(server, "/comments", { site: "demo", page: "/", website, body: "x" });
    assert.equal(refused.error, "invalid_website");
  }
  await page.reload();
  await widgetReady(page);
  assert.equal(await page.locator(".tb-list > .tb-comment").count(), payloads.length);
  const text = await page.locator(".tb-list").innerText();
  assert.ok(text.includes("<img src=x onerror=window.__xss=1>"));
  assert.ok(text.includes("<b onmouseover=window.__xss=6>Eve</b>"));
  for (const link of await page.locator(".tb-list .tb-body a").all()) {
    assert.match(await link.getAttribute("href"), /^(https?:|mailto:)/);
  }
  await page.locator(".tb-author").first().hover();
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  // The first paint (server HTML) escapes the same payloads.
  const html = await (await fetch(`${server.base}/api/v1/threads/html?site=demo&page=/`)).text();
  for (const raw of ["<img", "<script", "<svg/onload", "<details", "<b onmouseover", "javascript:"]) {
    assert.ok(!html.includes(raw), `first paint contains ${raw}`);
  }
  assert.ok(html.includes("&lt;img src=x onerror=window.__xss=1&gt;"));
  await page.close();
});

serverTest("every kind of body node: the widget builds the same DOM as the server's first paint", async (server) => {
  const markdown = [
    "# A heading with *emphasis*",
    "",
    "Plain, **strong**, *em*, ~~struck~~, `code with \"quotes\" and \\\\ backslash` and a [link](https://example.org/a?b=1&c=2).",
    "A hard  ",
    "break, then 😀, </script>, \u2028 and \u00a0 characters.",
    "",
    "> quoted with `code`",
    ">",
    "> > nested quote",
    "",
    "- one",
    "- two",
    "  1. inner",
    "  2. list",
    "",
    "3. three",
    "4. four",
    "",
    "```",
    "fn main() {",
    "\tprintln!(\"tab\");",
    "}",
    "```",
    "",
    "---",
    "",
    "[not a link](javascript:alert(1)) stays text",
  ].join("\n");
  const rich = await api(server, "/comments", {
    site: "demo", page: "/", author: "Typesetter \"T\" \\", website: "https://t.example/?q=1&r=2", body: markdown,
  });
  assert.ok(rich.comment, JSON.stringify(rich));
  await api(server, "/comments", { site: "demo", page: "/", body: "An anonymous reply", parent: rich.comment.id });
  const read = (page, root) => page.evaluate((root) => {
    const shadow = document.querySelector("#talkback").shadowRoot;
    const all = (sel) => [...shadow.querySelectorAll(`${root} ${sel}`)];
    return {
      // Leptos may leave empty comment nodes as position markers; they are not content.
      bodies: all(".tb-body").map((b) => b.innerHTML.replace(/<!---->/g, "")),
      authors: all(".tb-author").map((a) => [a.textContent, a.getAttribute("href")]),
    };
  }, root);

  const painted = await browser.newPage();
  await painted.route("**/*.wasm", (route) => route.abort());
  await painted.goto(`${server.base}/`);
  await painted.locator(".tb-prerender .tb-body").first().waitFor();
  const fromServer = await read(painted, ".tb-prerender");
  await painted.close();

  const page = await browser.newPage();
  await openThread(page, server);
  const fromWidget = await read(page, ".tb-app");
  assert.equal(fromServer.bodies.length, 2);
  for (const tag of ["<p><strong>", "<em>", "<del>", "<code>", "<blockquote><p>", "<blockquote><p>nested quote</p></blockquote></blockquote>", "<ul>", "<ol>", '<ol start="3">', "<pre><code>", "<hr>", "<br>", 'rel="nofollow ugc noopener noreferrer"']) {
    assert.ok(fromServer.bodies[0].includes(tag), `first paint lacks ${tag}: ${fromServer.bodies[0]}`);
  }
  assert.ok(!fromServer.bodies[0].includes("javascript:"));
  assert.deepEqual(fromWidget, fromServer);
  assert.deepEqual(fromWidget.authors, [["Typesetter \"T\" \\", "https://t.example/?q=1&r=2"], ["Anonymous", null]]);
  await screenshot(page, "widget-every-node");
  await page.close();
});

serverTest("first paint comes from the server before the WASM loads", async (server) => {
  await api(server, "/comments", { site: "demo", page: "/", author: "Early", body: "Painted *without* WASM" });
  const page = await browser.newPage();
  await page.route("**/*.wasm", (route) => route.abort());
  await page.goto(`${server.base}/`);
  await page.locator(".tb-prerender .tb-body em", { hasText: "without" }).waitFor();
  assert.equal(await page.locator(".tb-prerender .tb-count").textContent(), "One Response to “A Working Smarter Conversation”");
  await page.close();
});

test("cross-origin embed: the loader finds its server, CORS admits only configured origins", async () => {
  let server;
  const blogPage = (lang) => `<!DOCTYPE html><html lang="${lang}"><head><meta charset="utf-8"><title>Cross</title></head>
    <body><h1>Elsewhere</h1><script src="${server.base}/embed.js" data-site="cross" data-page="/cross" data-title="Cross" defer></script></body></html>`;
  const blog = await startBlog(() => blogPage("de"));
  const other = await startBlog(() => blogPage("en"));
  server = await startServer({ extraSites: `[[sites]]\nid = "cross"\norigins = ["${blog.origin}"]\n${SCRIPTED_SEEDS}` });
  try {
    const page = await browser.newPage();
    await page.goto(blog.origin + "/");
    await widgetReady(page);
    assert.equal(await page.locator(".tb-form-title").first().textContent(), "Schreibe einen Kommentar");
    await postComment(page, { name: "Über", body: "Grüße von woanders" });
    await page.locator(".tb-body", { hasText: "Grüße von woanders" }).waitFor();
    assert.equal(await page.locator(".tb-count").textContent(), "Eine Antwort auf „Cross“");
    // What a reader can fix, the server words in the widget's language (it asks in Accept-Language).
    await postComment(page, { name: "Über", email: "leser@localhost", body: "Noch einmal" });
    await page.locator(".tb-form:not(.tb-form-inline)", { hasText: "Diese E-Mail-Adresse sieht nicht richtig aus" }).waitFor();
    await screenshot(page, "widget-cross-origin-de");

    // A page on an origin the site does not list can neither read nor post.
    const stranger = await browser.newPage();
    await stranger.goto(other.origin + "/");
    await stranger.locator(".tb-error").first().waitFor();
    await stranger.close();
    await page.close();
  } finally {
    await blog.close();
    await other.close();
    await server.stop();
  }
});

test("odd language tags (en_US, fr_CA) fall back to a known language instead of breaking", async () => {
  let server;
  const blog = await startBlog((req) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Odd</title></head><body>
    <script src="${server.base}/embed.js" data-site="odd" data-page="/odd" data-lang="fr_CA" defer></script></body></html>`);
  server = await startServer({ extraSites: `[[sites]]\nid = "odd"\norigins = ["${blog.origin}"]\n${SCRIPTED_SEEDS}` });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(blog.origin + "/");
    await widgetReady(page);
    await postComment(page, { name: "Émile", body: "Bonjour" });
    await page.locator(".tb-body", { hasText: "Bonjour" }).waitFor();
    assert.equal(await page.locator(".tb-form-title").first().textContent(), "Laisser un commentaire");
    assert.ok(await page.locator(".tb-time").first().getAttribute("title"));
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await blog.close();
    await server.stop();
  }
});
