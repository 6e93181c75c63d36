// "Notify me of follow-up comments" as readers use it: Chromium ticks the box in the widget
// and posts, the reader confirms from the mail a real SMTP conversation delivered (a sink on
// loopback), another reader replies, the first gets the mail, and the mail client's one-click
// unsubscribe (RFC 8058) stops any further mail. Messages are parsed with mailparser.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { simpleParser } from "mailparser";
import { startServer, launch, widgetReady, postComment, screenshot, axeSource, cliWithInput } from "./helpers.mjs";

/** An SMTP server on loopback that accepts every message and keeps it. */
async function smtpSink() {
  const messages = [];
  const server = createServer((socket) => {
    let buffer = "", data = null;
    socket.write("220 sink.test ESMTP\r\n");
    socket.on("data", (chunk) => {
      buffer += chunk.toString("latin1");
      let end;
      while ((end = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (data !== null) {
          if (line === ".") {
            messages.push(Buffer.from(data, "latin1"));
            data = null;
            socket.write("250 queued\r\n");
          } else {
            data += (line.startsWith("..") ? line.slice(1) : line) + "\r\n";
          }
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") socket.write("250-sink.test\r\n250 8BITMIME\r\n");
        else if (verb === "DATA") { data = ""; socket.write("354 go ahead\r\n"); }
        else if (verb === "QUIT") { socket.end("221 bye\r\n"); }
        else socket.write("250 OK\r\n");
      }
    });
    socket.on("error", () => {});
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: server.address().port,
    /** Waits for the `n`th message (1-based) and parses it; null if none came in time. */
    async nth(n, ms = 10000) {
      const end = Date.now() + ms;
      while (messages.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      return messages.length >= n ? simpleParser(messages[n - 1]) : null;
    },
    count: () => messages.length,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** A free loopback port, so the server's public URL (the links in mail) can name it. */
async function freePort() {
  const probe = createServer();
  await new Promise((r) => probe.listen(0, "127.0.0.1", r));
  const { port } = probe.address();
  await new Promise((r) => probe.close(r));
  return port;
}

/** A webhook receiver on loopback that answers 204 and counts what it got. */
async function hookReceiver() {
  const events = [];
  const server = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => { events.push(JSON.parse(body)); res.writeHead(204).end(); });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, events, close: () => new Promise((r) => server.close(r)) };
}

let browser, sink, hook, server;
before(async () => {
  browser = await launch();
  sink = await smtpSink();
  hook = await hookReceiver();
  const port = await freePort();
  server = await startServer({
    bind: `127.0.0.1:${port}`,
    top: `public_url = "http://127.0.0.1:${port}"`,
    extraSites: [
      `owner_email = "owner@blog.example"`,
      `notify = "none"`,
      `[[sites.webhooks]]`,
      `url = "${hook.url}"`,
      `secret = "a-secret-of-sixteen-chars"`,
      `[mail]`,
      `smtp_url = "smtp://127.0.0.1:${sink.port}"`,
      `from = "Talkback <talkback@blog.example>"`,
    ].join("\n"),
  });
});
after(async () => { await browser?.close(); await server?.stop(); await sink?.close(); await hook?.close(); });

/** A header's raw value (mailparser folds List-* headers into an object of its own). */
const header = (mail, key) => {
  const line = mail.headerLines.find((h) => h.key === key)?.line ?? "";
  return line.slice(line.indexOf(":") + 1).replace(/\r?\n\s+/g, " ").trim();
};

const noMoreMailThan = async (n) => {
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(sink.count(), n, "no further mail");
};

test("tick the box, confirm from the mail, hear about a reply, unsubscribe in one click", async () => {
  const ann = await browser.newPage();
  await ann.goto(`${server.base}/`);
  await widgetReady(ann);
  const form = ann.locator("form.tb-form:not(.tb-form-inline)");
  // The boxes appear once there is an address to write to, unticked.
  assert.equal(await form.locator(".tb-notify").count(), 0);
  await form.locator('input[type="text"]').fill("Ann");
  await form.locator('input[type="email"]').fill("ann@example.org");
  const replies = form.getByLabel("Notify me of replies to my comment by email");
  await replies.waitFor();
  assert.equal(await replies.isChecked(), false);
  assert.equal(await form.getByLabel("Notify me of all new comments by email").isChecked(), false);
  await replies.check();
  await form.locator("textarea").fill("How far back should I cut a climbing rose?");
  await screenshot(ann, "notify-form-ticked");
  const axe = await ann.evaluate(async (source) => {
    eval(source);
    const root = document.querySelector("#talkback").shadowRoot;
    const result = await window.axe.run(root.querySelector(".tb-notify"));
    return result.violations.filter((v) => ["serious", "critical"].includes(v.impact)).map((v) => v.id);
  }, axeSource());
  assert.deepEqual(axe, []);
  await form.locator('button[type="submit"]').click();
  const own = ann.locator(".tb-body", { hasText: "climbing rose" });
  await own.waitFor();

  // The first mail only asks to confirm.
  const ask = await sink.nth(1);
  assert.ok(ask, "a request to confirm");
  assert.equal(ask.to.value[0].address, "ann@example.org");
  assert.match(ask.subject, /^\[demo\] Confirm: mail you about follow-up comments\?$/);
  assert.equal(header(ask, "list-unsubscribe-post"), "List-Unsubscribe=One-Click");
  const confirmUrl = ask.text.match(/http:\/\/\S+\/subscription\?token=\S+/)[0];
  assert.ok(confirmUrl.startsWith(server.base), confirmUrl);

  // The link shows a button (a mail scanner's GET changes nothing); the button confirms.
  const confirm = await browser.newPage();
  await confirm.goto(confirmUrl);
  await screenshot(confirm, "notify-confirm-page");
  await confirm.getByRole("button", { name: "Yes, notify me" }).click();
  await confirm.locator(".tb-notice", { hasText: "Done." }).waitFor();
  await screenshot(confirm, "notify-confirmed");

  // Bob, in a browser of his own, replies to Ann.
  const bobContext = await browser.newContext();
  const bob = await bobContext.newPage();
  await bob.goto(`${server.base}/`);
  await widgetReady(bob);
  await bob.locator(".tb-comment", { hasText: "climbing rose" }).getByRole("button", { name: "Reply" }).first().click();
  const inline = bob.locator("form.tb-form-inline");
  await postComment(bob, { name: "Bob", email: "bob@example.org", body: "Down to the third bud from the base." }, inline);
  await bob.locator(".tb-body", { hasText: "third bud" }).waitFor();

  const reply = await sink.nth(2);
  assert.ok(reply, "Ann hears about Bob's reply");
  assert.equal(reply.to.value[0].address, "ann@example.org");
  assert.match(reply.subject, /Bob replied to your comment/);
  assert.match(reply.text, /Down to the third bud from the base\./);
  assert.match(reply.inReplyTo, /^<comment-\d+\.subscriber-\d+@127\.0\.0\.1>$/);
  const oneClick = header(reply, "list-unsubscribe").match(/<(http[^>]+)>/)[1];
  assert.ok(reply.text.includes(oneClick), "the same link is visible in the mail");

  // What a mail client does on "Unsubscribe": POST the header's URL, no cookies, no page.
  const res = await fetch(oneClick, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "List-Unsubscribe=One-Click",
  });
  assert.equal(res.status, 200);

  // Bob writes again: nothing more reaches Ann.
  await bob.locator(".tb-comment", { hasText: "climbing rose" }).getByRole("button", { name: "Reply" }).first().click();
  await postComment(bob, { name: "Bob", email: "bob@example.org", body: "And feed it in spring." }, bob.locator("form.tb-form-inline"));
  await bob.locator(".tb-body", { hasText: "feed it in spring" }).waitFor();
  await noMoreMailThan(2);

  // The unsubscribe link now says so, in a page of its own.
  const spent = await browser.newPage();
  const shown = await spent.goto(oneClick);
  assert.equal(shown.status(), 404);
  await spent.locator("[data-error=subscription_not_found]").waitFor();
  await screenshot(spent, "notify-unsubscribe-spent");
  await bobContext.close();
});

test("the dashboard lists mail and webhook deliveries and pings the webhooks", async () => {
  cliWithInput(server.dir, "correct horse battery", "admin", "add", "zoe", "--role", "owner", "--password-stdin");
  const page = await browser.newPage();
  await page.goto(`${server.base}/admin`);
  await page.getByLabel("Username").fill("zoe");
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Talkback moderation" }).waitFor();
  await page.getByText("Mail and webhooks").click();
  const rows = page.locator(".tb-deliveries tbody tr");
  // The reader mail of the test before: a request to confirm, then a follow-up, delivered.
  await rows.filter({ hasText: "mail.follow_up" }).first().waitFor();
  assert.match(await rows.filter({ hasText: "mail.confirm" }).first().innerText(), /ann@example\.org\s+delivered/);
  await page.getByRole("button", { name: "Send a test event to its webhooks" }).click();
  await page.locator(".tb-message", { hasText: "Pinged demo's webhooks: 1 of 1 answered." }).waitFor();
  await rows.filter({ hasText: "ping" }).first().waitFor();
  assert.ok(hook.events.some((e) => e.type === "ping"), "the receiver got the ping");
  await screenshot(page, "dashboard-deliveries");
});
