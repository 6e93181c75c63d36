// The README's path for a blogger, behind Debian's nginx: `talkback init` writes the
// configuration, the binary serves the widget and dashboard it carries (no assets directory),
// and examples/nginx/talkback.conf (only its ports and certificate paths changed) terminates
// TLS with a self-signed certificate over HTTP/2. Through it: the widget posts from a blog page,
// rate limits count each reader's own address whatever X-Forwarded-For a client sends, the
// dashboard's session cookie is Secure and its Origin check passes, and plain HTTP redirects.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { connect as http2Connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, BIN, launch, startBlog, widgetReady, screenshot, freePort, until, callHttps, startNginx } from "./helpers.mjs";

const PASSWORD = "correct horse battery";
const call = callHttps;

let dir, talkback, nginx, blog, browser, ports;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tb-proxy-"));
  ports = { talkback: await freePort(), https: await freePort(), http: await freePort() };
  const publicUrl = `https://127.0.0.1:${ports.https}`;
  blog = await startBlog(() => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>On pruning roses</title></head>
<body><main><h1>On pruning roses</h1><p>Cut above an outward-facing bud.</p>${snippet}</main></body></html>`);

  // 1. The configuration, as the README says: talkback init.
  const init = spawnSync(BIN, ["init", "--site", "blog", "--origin", blog.origin, "--public-url", publicUrl,
    "--out", join(dir, "talkback.toml")], { encoding: "utf8" });
  assert.equal(init.status, 0, init.stderr);
  const snippet = /<script [^\n]*<\/script>/.exec(init.stdout)[0];
  assert.equal(snippet, `<script src="${publicUrl}/embed.js" data-site="blog" defer></script>`);

  // 2. The server, with the binary's own assets (the configuration names no directory).
  const env = { ...process.env, RUST_LOG: "warn,talkback=info", TALKBACK_BIND: `127.0.0.1:${ports.talkback}`,
    TALKBACK_DATABASE: join(dir, "db"), TALKBACK_RATE_LIMIT_PER_MINUTE: "3" };
  talkback = spawn(BIN, ["--config", join(dir, "talkback.toml"), "serve"], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
  talkback.log = "";
  talkback.stderr.on("data", (c) => { talkback.log += c; });
  await until(() => { if (!/listening on/.test(talkback.log)) throw new Error(talkback.log); });
  assert.match(talkback.log, /widget assets built in/, "the binary serves its own widget");
  const admin = spawnSync(BIN, ["--config", join(dir, "talkback.toml"), "admin", "add", "owner", "--role", "owner", "--password-stdin"],
    { encoding: "utf8", input: PASSWORD, env });
  assert.equal(admin.status, 0, admin.stderr);

  // 3. nginx with the example configuration: only ports and certificate paths differ.
  nginx = await startNginx(dir, [ports.talkback], ports);
  browser = await launch(["--ignore-certificate-errors"]);
});

after(async () => {
  await browser?.close();
  nginx?.stop();
  talkback?.kill("SIGTERM");
  await blog?.close();
});

test("nginx speaks HTTP/2 and passes the server's answers through; plain HTTP redirects", async () => {
  const session = http2Connect(`https://127.0.0.1:${ports.https}`, { rejectUnauthorized: false });
  const answer = await new Promise((resolve, reject) => {
    const req = session.request({ ":path": "/api/v1/openapi.json" });
    let text = "";
    req.on("response", (headers) => { req.on("data", (c) => { text += c; }); req.on("end", () => resolve({ headers, text })); });
    req.on("error", reject);
    req.end();
  });
  session.close();
  assert.equal(answer.headers[":status"], 200);
  assert.equal(JSON.parse(answer.text).openapi, "3.1.0");
  assert.match(answer.headers["x-request-id"], /\S{8,}/, "nginx's request id reaches the server and comes back");

  const redirect = await new Promise((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port: ports.http, path: "/embed.js" }, (res) => { res.resume(); resolve(res); })
      .on("error", reject).end();
  });
  assert.equal(redirect.statusCode, 301);
  assert.match(redirect.headers.location, /^https:\/\/127\.0\.0\.1\/embed\.js$/);
});

test("rate limits count each reader's own address, whatever X-Forwarded-For a client sends", async () => {
  const post = (localAddress, n, headers = {}) => call(ports.https, {
    method: "POST", path: "/api/v1/comments", localAddress, headers,
    body: { site: "blog", page: "/limits/", author: `Script ${localAddress}`, body: `Comment number ${n} from ${localAddress}, all different.` },
  });
  for (let n = 1; n <= 3; n++) assert.equal((await post("127.0.0.2", n)).status, 201, `post ${n}`);
  const over = await post("127.0.0.2", 4);
  assert.equal(over.status, 429);
  assert.equal(over.json.error, "rate_limited");
  assert.ok(Number(over.headers["retry-after"]) >= 1);
  // Pretending to be someone else buys nothing: nginx replaces the header.
  const spoofed = await post("127.0.0.2", 5, { "X-Forwarded-For": "203.0.113.9" });
  assert.equal(spoofed.status, 429, "a client's own X-Forwarded-For is not believed");
  // Another reader behind the same proxy still has their whole budget.
  assert.equal((await post("127.0.0.3", 1)).status, 201, "another address is not limited");
});

test("a reader comments from the blog through nginx; the owner approves it in the dashboard over HTTPS", async () => {
  const page = await browser.newPage();
  await page.goto(`${blog.origin}/2024/roses/`);
  await widgetReady(page);
  const form = page.locator("form.tb-form:not(.tb-form-inline)");
  const began = Date.now();
  await form.locator("textarea").click();
  await form.locator("textarea").fill("Outward-facing buds, yes! My climbing rose finally opened up after I did this.");
  await form.locator('input[type="text"]').fill("Margaret");
  await form.locator('input[type="email"]').fill("margaret@example.com");
  await page.waitForTimeout(Math.max(0, 3300 - (Date.now() - began)));
  const posted = page.waitForResponse((r) => r.url().endsWith("/api/v1/comments") && r.request().method() === "POST");
  await form.locator('button[type="submit"]').click();
  const created = await (await posted).json();
  assert.equal(created.comment.author, "Margaret");
  // `talkback init` holds a first-time commenter's comment for moderation.
  assert.equal(created.comment.pending, true, JSON.stringify(created));
  await page.locator(".tb-comment", { hasText: "Margaret" }).waitFor();
  await screenshot(page, "proxy-widget-posted");

  // The owner signs in through nginx: the cookie is Secure (the proxy said https).
  const origin = `https://127.0.0.1:${ports.https}`;
  const signIn = await call(ports.https, { method: "POST", path: "/admin/api/session", headers: { Origin: origin },
    body: { name: "owner", password: PASSWORD } });
  assert.equal(signIn.status, 200, signIn.text);
  const cookie = signIn.headers["set-cookie"].find((c) => /^[^=]+=/.test(c));
  assert.match(cookie, /;\s*Secure/i, cookie);
  assert.match(cookie, /;\s*HttpOnly/i, cookie);
  const session = { Cookie: cookie.split(";")[0], Origin: origin, "X-CSRF-Token": signIn.json.csrf };
  const queue = await call(ports.https, { path: "/admin/api/comments?site=blog&status=pending", headers: session });
  assert.equal(queue.status, 200, queue.text);
  const held = queue.json.comments.find((c) => c.author === "Margaret");
  assert.equal(held.ip, "127.0.0.1", "the reader's own address, not nginx's alone");
  const approve = await call(ports.https, { method: "POST", path: "/admin/api/moderate", headers: session,
    body: { action: "approve", ids: [held.id] } });
  assert.equal(approve.status, 200, approve.text);

  // Everybody now sees it, through nginx, in the server-rendered first paint and the widget.
  const other = await browser.newPage();
  await other.goto(`${blog.origin}/2024/roses/`);
  await widgetReady(other);
  await other.locator(".tb-comment", { hasText: "My climbing rose finally opened up" }).waitFor();
  await screenshot(other, "proxy-widget-approved");
  const scripted = await call(ports.https, { path: "/admin/api/comments?site=blog&status=spam", headers: session });
  assert.ok(scripted.json.comments.some((c) => c.ip === "127.0.0.2"), "the scripts' own addresses were recorded");
});

test("live updates stream through nginx as they happen, unbuffered", async () => {
  const origin = `https://127.0.0.1:${ports.https}`;
  const signIn = await call(ports.https, { method: "POST", path: "/admin/api/session", headers: { Origin: origin },
    body: { name: "owner", password: PASSWORD } });
  const session = { Cookie: signIn.headers["set-cookie"][0].split(";")[0], Origin: origin, "X-CSRF-Token": signIn.json.csrf };
  let text = "";
  const stream = httpsRequest({ host: "127.0.0.1", port: ports.https, path: "/api/v1/live?site=blog&page=/limits/",
    headers: { Accept: "text/event-stream" }, rejectUnauthorized: false });
  const opened = new Promise((resolve, reject) => {
    stream.on("response", (res) => { res.setEncoding("utf8"); res.on("data", (c) => { text += c; }); resolve(res); });
    stream.on("error", reject);
  });
  stream.end();
  const res = await opened;
  assert.equal(res.statusCode, 200);
  assert.match(res.headers["content-type"], /text\/event-stream/);
  // Unbuffered: the opening frames arrive at once, not when a buffer fills or the stream ends.
  await until(() => assert.match(text, /event: ready/), 3000);
  // A moderator approves one of the scripts' comments (kept as spam): followers see it now.
  const spam = await call(ports.https, { path: "/admin/api/comments?site=blog&status=spam", headers: session });
  const held = spam.json.comments.find((c) => c.page === "/limits");
  const asked = Date.now();
  const approve = await call(ports.https, { method: "POST", path: "/admin/api/moderate", headers: session,
    body: { action: "approve", ids: [held.id] } });
  assert.equal(approve.status, 200, approve.text);
  await until(() => assert.match(text, new RegExp(`"kind":"added".*"id":${held.id}`)), 2000);
  const took = Date.now() - asked;
  assert.ok(took < 2000, `the event took ${took} ms`);
  stream.destroy();
});

test("the systemd unit in examples/ passes systemd-analyze verify", () => {
  const unit = readFileSync(join(ROOT, "examples/systemd/talkback.service"), "utf8").replaceAll("/usr/local/bin/talkback", BIN);
  writeFileSync(join(dir, "talkback.service"), unit);
  const out = spawnSync("systemd-analyze", ["verify", join(dir, "talkback.service")], { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stderr.trim(), "", "no warnings either");
});
