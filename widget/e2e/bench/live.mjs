// Follower side of `cargo xtask bench --live`: N idle Server-Sent Events streams on one thread
// (each its own connection, as N readers' tabs would be), the server's RSS with them open, then
// one comment posted and the time until each stream has it. Prints figures, asserts nothing.
// Usage: node live.mjs TALKBACK_BASE SERVER_PID N
import { request } from "node:http";
import { readFileSync } from "node:fs";

const [base, pid, n = "5000"] = process.argv.slice(2);
const N = Number(n);
const url = new URL(base);
const rssMiB = () => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line.split(/\s+/)[1]) / 1024;
};
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const pick = (xs, q) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * q))];

const idle = rssMiB();
let ready = 0;
let posted = 0;
const arrivals = [];
const streams = [];
const opened = Date.now();
await new Promise((resolve, reject) => {
  let pending = N;
  const open = (i) => {
    const req = request({ host: url.hostname, port: url.port, path: "/api/v1/live?site=demo&page=/live-bench/",
      headers: { accept: "text/event-stream" }, agent: false }, (res) => {
      let text = "", seen = false, got = false;
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        text += chunk;
        if (!seen && text.includes("event: ready")) { seen = true; ready++; if (--pending === 0) resolve(); }
        if (seen && !got && posted && text.includes('"kind":"added"')) { got = true; arrivals.push(performance.now() - posted); }
        if (text.length > 4096) text = text.slice(-1024);
      });
    });
    req.on("error", reject);
    req.end();
    streams.push(req);
  };
  // Open in batches, so the listen queue is not what is measured.
  let i = 0;
  const batch = () => { for (let k = 0; k < 250 && i < N; k++) open(i++); if (i < N) setTimeout(batch, 20); };
  batch();
});
const openSecs = (Date.now() - opened) / 1000;
await new Promise((r) => setTimeout(r, 2000));
const withStreams = rssMiB();
posted = performance.now();
const res = await fetch(`${base}/api/v1/comments`, { method: "POST", headers: { "content-type": "application/json" },
  body: JSON.stringify({ site: "demo", page: "/live-bench/", author: "Bench", body: "A new comment for every follower." }) });
const acknowledged = performance.now() - posted;
const deadline = Date.now() + 10000;
while (arrivals.length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
console.log(`live updates, one thread, ${N} idle followers (release server, one connection each):`);
console.log(`  streams open in ${openSecs.toFixed(1)} s; server RSS ${idle.toFixed(1)} MiB idle -> ${withStreams.toFixed(1)} MiB with ${ready} streams (target <= 150 MiB; ${((withStreams - idle) * 1024 / Math.max(1, ready)).toFixed(1)} KiB a stream)`);
console.log(`  a new comment (201 after ${acknowledged.toFixed(0)} ms, status ${res.status}) reached ${arrivals.length} of ${N}: p50 ${pick(arrivals, 0.5)?.toFixed(0)} ms, p99 ${pick(arrivals, 0.99)?.toFixed(0)} ms, max ${pick(arrivals, 1)?.toFixed(0)} ms after the POST (target p99 <= 1000 ms)`);
for (const s of streams) s.destroy();
process.exit(0);
