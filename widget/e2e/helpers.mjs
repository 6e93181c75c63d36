// Shared by the browser tests: a real Talkback server (the debug binary) on a loopback port
// with its own sled database, a static "blog" server for cross-origin embeds, and Debian's
// Chromium driven by playwright-core.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync, existsSync } from "node:fs";
import { createServer } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, "..", "..");
export const BIN = process.env.TB_E2E_BIN ?? join(ROOT, "target/debug/talkback");
const ASSETS = process.env.TB_E2E_ASSETS ?? join(ROOT, "target/talkback-widget");
const EXAMPLES = process.env.TB_E2E_EXAMPLES ?? join(ROOT, "examples");
export const ARTIFACTS = join(here, "artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

/** Spam rules for tests about something else: they seed threads by posting JSON as a script
 * would, type faster than people and post many comments on one page. (The anti-spam test
 * runs with the defaults.) An inline table, so that keys after it still belong to the site. */
export const SCRIPTED_SEEDS = `spam = { proof_of_work = false, min_fill_secs = 0, page_burst_per_minute = 0, duplicate_minutes = 0, filter_threshold_percent = 0, max_links = 1000 }`;

/** Writes the server's configuration into `dir` (a fresh temporary one by default); `top`:
 * more top-level settings, `extraSites`: more tables after the `demo` site. */
export function writeConfig({ dir, extraSites = "", editWindowSecs = 900, spam = SCRIPTED_SEEDS, bind = "127.0.0.1:0", top = "" } = {}) {
  dir ??= mkdtempSync(join(tmpdir(), "tb-e2e-"));
  const config = join(dir, "talkback.toml");
  writeFileSync(config, [
    `bind = ${JSON.stringify(bind)}`,
    top,
    `database = ${JSON.stringify(join(dir, "db"))}`,
    `assets_dir = ${JSON.stringify(ASSETS)}`,
    `examples_dir = ${JSON.stringify(EXAMPLES)}`,
    `edit_window_secs = ${editWindowSecs}`,
    `rate_limit_per_minute = 0`,
    `[[sites]]`,
    `id = "demo"`,
    spam,
    extraSites,
  ].join("\n"));
  return { dir, config };
}

/** Runs a `talkback` command (import, remap, ...) against the data directory `dir`. */
export function cli(dir, ...args) {
  return cliWithInput(dir, "", ...args);
}

/** Runs a `talkback` command with `input` on its standard input (passwords). */
export function cliWithInput(dir, input, ...args) {
  const out = spawnSync(BIN, ["--config", join(dir, "talkback.toml"), ...args], { encoding: "utf8", input, env: { ...process.env, RUST_LOG: "warn" } });
  if (out.status !== 0) throw new Error(`talkback ${args.join(" ")} failed: ${out.stderr}`);
  return out.stdout;
}

/** Starts `talkback serve` with a fresh (or given) data directory. */
export async function startServer(options = {}) {
  const { dir, config } = options.dir && !options.extraSites && !options.editWindowSecs && options.spam === undefined && existsSync(join(options.dir, "talkback.toml"))
    ? { dir: options.dir, config: join(options.dir, "talkback.toml") }
    : writeConfig(options);
  const child = spawn(BIN, ["--config", config, "serve"], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, RUST_LOG: "warn,talkback=info" } });
  let log = "";
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start: " + log)), 30000);
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on("exit", (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
  return {
    base, dir, child,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Serves `html` from a different origin (localhost vs 127.0.0.1, its own port). */
export async function startBlog(html) {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { origin: `http://localhost:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", ...extraArgs],
  });
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits until the WASM widget has taken over from the first paint. */
export async function widgetReady(page) {
  await page.locator(".tb-app:not([hidden]) form.tb-form").first().waitFor({ timeout: 30000 });
}

/** Fills and sends the "Leave a Reply" form (or `form` when given). */
export async function postComment(page, { name, email, website, body }, form = page.locator("form.tb-form:not(.tb-form-inline)")) {
  await form.locator("textarea").fill(body);
  if (name !== undefined) await form.locator('input[type="text"]').fill(name);
  if (email !== undefined) await form.locator('input[type="email"]').fill(email);
  if (website !== undefined) await form.locator('input[type="url"]').fill(website);
  await form.locator('button[type="submit"]').click();
}

export function axeSource() {
  return readFileSync(join(here, "node_modules/axe-core/axe.min.js"), "utf8");
}

export const freePort = () => new Promise((resolve) => {
  const s = createTcpServer().listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

/** Waits until `fn` stops throwing. */
export async function until(fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    try { return await fn(); } catch (e) { if (Date.now() > end) throw e; }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An HTTPS request to nginx from `localAddress` (any 127.x address is this machine). */
export function callHttps(port, { method = "GET", path, body, headers = {}, localAddress = "127.0.0.1" }) {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: "127.0.0.1", port, method, path, localAddress, rejectUnauthorized: false,
      headers: { ...(body ? { "content-type": "application/json" } : {}), ...headers },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => { text += c; });
      res.on("end", () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on("error", reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

/** Debian's nginx with examples/nginx/talkback.conf, only its ports and certificate paths
 * changed (a self-signed certificate made here), in front of the Talkback servers listening on
 * `upstreams` (ports). Its access log (`accessLog`) names the server that answered each
 * request: "URI upstream-address". `ports`: its own (`https`, `http`), free ones by default. */
export async function startNginx(dir, upstreams, ports = {}) {
  const nginxBin = process.env.NGINX ?? "/usr/sbin/nginx";
  ports = { https: ports.https ?? await freePort(), http: ports.http ?? await freePort() };
  const cert = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { encoding: "utf8" });
  if (cert.status !== 0) throw new Error(cert.stderr);
  let site = readFileSync(join(ROOT, "examples/nginx/talkback.conf"), "utf8");
  const edits = [
    // Several servers on one database: each is one line of the upstream.
    [/server 127\.0\.0\.1:8080;/, upstreams.map((port) => `server 127.0.0.1:${port};`).join("\n    ")],
    [/listen 80;/, `listen 127.0.0.1:${ports.http};`],
    [/listen 443 ssl http2;/, `listen 127.0.0.1:${ports.https} ssl http2;`],
    [/\n\s*listen \[::\]:80;/, ""],
    [/\n\s*listen \[::\]:443 ssl http2;/, ""],
    [/\/etc\/letsencrypt\/live\/comments\.example\.com\/fullchain\.pem/, join(dir, "cert.pem")],
    [/\/etc\/letsencrypt\/live\/comments\.example\.com\/privkey\.pem/, join(dir, "key.pem")],
  ];
  for (const [from, to] of edits) {
    if (!from.test(site)) throw new Error(`examples/nginx/talkback.conf no longer has ${from}`);
    site = site.replace(from, to);
  }
  mkdirSync(join(dir, "nginx-tmp"), { recursive: true });
  writeFileSync(join(dir, "site.conf"), site);
  const accessLog = join(dir, "nginx-access.log");
  writeFileSync(join(dir, "nginx.conf"), `${process.getuid() === 0 ? "user root;" : ""}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
daemon off;
events { worker_connections 512; }
http {
  log_format upstreams '$request_uri $upstream_addr';
  access_log ${accessLog} upstreams;
  client_body_temp_path ${dir}/nginx-tmp/body;
  proxy_temp_path ${dir}/nginx-tmp/proxy;
  fastcgi_temp_path ${dir}/nginx-tmp/fastcgi;
  uwsgi_temp_path ${dir}/nginx-tmp/uwsgi;
  scgi_temp_path ${dir}/nginx-tmp/scgi;
  include ${dir}/site.conf;
}
`);
  const args = ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "nginx-error.log")];
  const check = spawnSync(nginxBin, ["-t", ...args], { encoding: "utf8" });
  if (check.status !== 0) throw new Error(check.stderr);
  const child = spawn(nginxBin, args, { stdio: "ignore" });
  await until(async () => {
    const health = await callHttps(ports.https, { path: "/healthz" });
    if (health.status !== 200) throw new Error(`nginx answered ${health.status}`);
  });
  return {
    ...ports, accessLog,
    stop() { child.kill("SIGQUIT"); },
  };
}
