// node-promises: the conclab contract on Node.js — one promise per task, gathered with
// Promise.all on one event loop.
//
// Node's loop is libuv, the engine uvloop wraps for asyncio: timers in a heap, sockets
// through epoll. Sleeps are setTimeout, requests node:http with no keep-alive agent (a fresh
// connection each), and cpu tasks run on the loop, one per turn, the way asyncio runs them:
// while one hashes, nothing else on the loop runs. --offload hands them to a worker_threads
// pool of one worker per core, Node's run_in_executor. It speaks CONTRACT.md exactly as the
// Python peers do; `make peers` installs a pinned Node into the project's .venv.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Worker, isMainThread, parentPort, threadId } from "node:worker_threads";
import { defaultDbUrl, mask, openDb, parseDbUrl } from "./node_db.mjs";
import { openData, parseSize, threadsNow } from "./node_disk.mjs";
import { TASKS as CRAWL_TASKS, crawl, parseScope } from "./node_crawl.mjs";

const MODEL = "node-promises";
const USAGE =
  "Usage: node-promises [--workload sleep|http|cpu|disk|brigade|db|crawl] [--tasks N] [--ms MS] [--work K] " +
  "[--seed URL]... [--allow ORIGIN]... [--per-host C] " +
  "[--addr HOST:PORT] [--offload] [--timeout-ms T] [--workers W] [--file PATH] [--file-size SIZE] " +
  "[--bytes B] [--buffered] [--write] [--laps L] [--db-url URL] [--rows R] [--serve HOST:PORT] [--timeline FILE] " +
  "[--json] [--verbose]";
const MAX_BODY = 64 * 1024;
const MOST_MS = 86_400_000;
/**
 * Refuse, before any opens, a pool of `n` db connections that RLIMIT_NOFILE (soft; read from
 * /proc/self/limits, which Node has no call for) cannot hold: exit 1, naming the limit and
 * what to raise it to, as the Rust models do.
 */
function admitConnections(n) {
  let soft, open;
  try {
    const line = fs.readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    soft = Number(line.split(/\s+/)[3]);
    open = fs.readdirSync("/proc/self/fd").length;
  } catch {
    return;
  }
  const inUse = open + 64; // and a margin for its own files
  if (Number.isFinite(soft) && n > soft - inUse) {
    process.stderr.write(`Error: ${n} db connections (--workers) cannot start: ${Math.max(soft - inUse, 0)} more ` +
      `fit under the limit — limit to raise: RLIMIT_NOFILE (\`ulimit -n\` = ${soft}; ${open} descriptors open), ` +
      `to at least ${inUse + n}\n`);
    process.exit(1);
  }
}

// --workers: at most PID_MAX_LIMIT, the most threads or processes Linux can run.
const MOST_WORKERS = 4_194_304;

function reject(reason) {
  // An argument with an `@` that the reason echoes may hold a password: it is shown masked.
  for (const arg of process.argv.slice(2).filter((a) => a.includes("@"))) {
    reason = reason.replaceAll(arg, mask(arg));
  }
  process.stderr.write(`Error: ${reason}\n\n${USAGE}\n`);
  process.exit(2);
}

function contractArgs() {
  let parsed;
  try {
    const str = { type: "string" };
    const bool = { type: "boolean" };
    parsed = parseArgs({
      options: {
        workload: str, tasks: str, ms: str, work: str, addr: str, "timeout-ms": str, workers: str,
        serve: str, timeline: str, file: str, "file-size": str, bytes: str,
        buffered: bool, write: bool, offload: bool, json: bool, verbose: bool, laps: str, version: bool,
        "db-url": str, rows: str, seed: { type: "string", multiple: true },
        allow: { type: "string", multiple: true }, "per-host": str,
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    reject(e.message.split("\n")[0]);
  }
  if (parsed.version) {
    process.stdout.write(`node-promises (Node ${process.version})\n`);
    process.exit(0);
  }
  // A flag that does not apply to the mode chosen is refused, as the Rust models do.
  const workload = parsed.workload ?? "sleep";
  for (const [flag, [fits, serving, belongs]] of Object.entries(BELONGS)) {
    if (parsed[flag] === undefined) continue;
    if (parsed.serve !== undefined ? !serving : !fits.includes(workload) && fits !== ANY) {
      const mode = parsed.serve !== undefined ? "--serve" : `the ${workload} workload`;
      reject(`--${flag} does not apply to ${mode}: it belongs ${belongs}`);
    }
  }
  const defaults = {
    workload: "sleep", tasks: "10", ms: "1000", work: "100000", addr: "127.0.0.1:7878",
    "timeout-ms": "30000", offload: false, json: false, verbose: false,
  };
  if (workload === "crawl") defaults.tasks = String(CRAWL_TASKS);
  for (const [flag, value] of Object.entries(defaults)) parsed[flag] ??= value;
  const number = (name, min) => {
    const text = parsed[name];
    if (!/^\d+$/.test(text)) reject(`--${name}: '${text}' is not a whole number`);
    if (Number(text) < min) reject(`--${name}: ${text} is below ${min}`);
    return Number(text);
  };
  // --ms and --timeout-ms: at most a day, as the Rust models take them.
  const millis = (name, min) => {
    const value = number(name, min);
    if (value > MOST_MS) reject(`--${name}: ${parsed[name]} is above ${MOST_MS} (a day)`);
    return value;
  };
  const args = {
    workload: parsed.workload, tasks: number("tasks", 1), ms: millis("ms", 0),
    work: number("work", 0), timeoutMs: millis("timeout-ms", 1), offload: parsed.offload,
    json: parsed.json, verbose: parsed.verbose,
  };
  // --workers: bounded as every runtime bounds it, and never more than there are tasks.
  const workers = () => {
    const value = number("workers", 1);
    if (value > MOST_WORKERS) {
      reject(`--workers: ${value} is above ${MOST_WORKERS} (PID_MAX_LIMIT, the most threads or processes Linux can run)`);
    }
    return Math.min(value, args.tasks);
  };
  if (!ANY.includes(args.workload)) {
    reject(`--workload: '${args.workload}' is not one of ${ANY.join(", ")}`);
  }
  args.laps = parsed.laps === undefined ? 100 : number("laps", 1);
  const disk = args.workload === "disk" && parsed.serve === undefined;
  const size = (name, fallback) => {
    if (parsed[name] === undefined) return fallback;
    const value = parseSize(parsed[name]);
    if (value === null) reject(`--${name}: '${parsed[name]}' is not a positive multiple of 4096 (say 4096, 64M or 1G)`);
    return value;
  };
  Object.assign(args, {
    file: parsed.file, fileSize: size("file-size", undefined), bytes: size("bytes", 4096),
    buffered: parsed.buffered ?? false, write: parsed.write ?? false,
  });
  if (args.bytes > 1 << 30) reject(`--bytes: ${args.bytes} is over 1 GiB`);
  const at = parsed.addr.lastIndexOf(":");
  const port = parsed.addr.slice(at + 1);
  if (at < 1 || !/^\d+$/.test(port)) reject(`--addr: '${parsed.addr}' is not HOST:PORT`);
  args.host = parsed.addr.slice(0, at).replace(/^\[(.*)\]$/, "$1");
  args.port = Number(port);
  args.addr = parsed.addr;
  // db: --workers is pg's Pool of W connections; parsed by hand, so no reason quotes a password.
  const db = args.workload === "db" && parsed.serve === undefined;
  if (db) {
    const [url, reason] = parseDbUrl(parsed["db-url"] ?? defaultDbUrl());
    if (reason) reject(`--db-url: ${reason}`);
    args.db = url;
    args.rows = parsed.rows === undefined ? 100000 : number("rows", 1);
    if (args.rows > 2147483647) reject(`--rows: ${args.rows} is above 2147483647 (items.id is an int)`);
    args.workers = parsed.workers === undefined ? null : workers();
    if (args.workers !== null) admitConnections(args.workers);
  }
  // crawl: --workers is the requests in flight, W workers on the loop.
  const onCrawl = args.workload === "crawl" && parsed.serve === undefined;
  if (onCrawl) {
    try {
      args.scope = parseScope(parsed.seed, parsed.allow);
    } catch (e) {
      reject(e.message);
    }
    args.perHost = parsed["per-host"] === undefined ? 6 : number("per-host", 1);
    args.workers = parsed.workers === undefined ? null : workers();
  }
  if (parsed.workers !== undefined && !disk && !db && !onCrawl) reject("--workers: node-promises has no pool");
  // disk: the size of libuv's thread pool, which every file read goes through; read when the
  // pool first starts, which is later than this.
  if (parsed.workers !== undefined && disk) process.env.UV_THREADPOOL_SIZE = String(workers());
  args.fileThreads = Number(process.env.UV_THREADPOOL_SIZE || 4);
  if (parsed.serve !== undefined) {
    const at = parsed.serve.lastIndexOf(":");
    if (at < 1 || !/^\d+$/.test(parsed.serve.slice(at + 1))) reject(`--serve: '${parsed.serve}' is not HOST:PORT`);
    args.serve = { host: parsed.serve.slice(0, at).replace(/^\[(.*)\]$/, "$1"), port: Number(parsed.serve.slice(at + 1)), text: parsed.serve };
  }
  // Nothing is written until every argument is accepted.
  if (parsed.timeline !== undefined) {
    try {
      fs.writeFileSync(parsed.timeline, ""); // a path that cannot be written is bad input
    } catch (e) {
      reject(`--timeline: cannot write ${parsed.timeline}: ${e.code}`);
    }
    args.timeline = parsed.timeline;
  }
  return args;
}

// Where each flag that belongs to one mode belongs: [the workloads it applies to, whether it
// applies to --serve, the words of the refusal]. The rules are CONTRACT.md's.
const ANY = ["sleep", "http", "cpu", "disk", "brigade", "db", "crawl"];
const CRAWL = [["crawl"], false, "to the crawl workload"];
const DISK = [["disk"], false, "to the disk workload"];
const BELONGS = {
  tasks: [ANY, false, "to running tasks"],
  workload: [ANY, false, "to running tasks"],
  timeline: [ANY, false, "to running tasks: it records each task's span"],
  verbose: [ANY, false, "to running tasks: it names each finished task"],
  ms: [["sleep", "http", "db"], false, "to the sleep, http and db workloads"],
  work: [["cpu"], false, "to the cpu workload (a server's /cpu takes work=K)"],
  addr: [["http"], false, "to the http workload"],
  "timeout-ms": [["http", "db", "crawl"], true, "to the http, db and crawl workloads and --serve"],
  seed: CRAWL, allow: CRAWL, "per-host": CRAWL,
  offload: [["cpu"], true, "to the cpu workload and --serve"],
  file: DISK, "file-size": DISK, bytes: DISK, buffered: DISK,
  write: [["disk", "db"], false, "to the disk and db workloads"],
  "db-url": [["db"], false, "to the db workload"],
  rows: [["db"], false, "to the db workload"],
  laps: [["brigade"], false, "to the brigade workload"],
};

// ---- the tasks ---------------------------------------------------------------------------

/** One SHA-256 digest: Node's one-shot `crypto.hash` (21.7+), half again as fast here as a
 * Hash object per round, which older Nodes fall back to. */
const sha256 = crypto.hash
  ? (data) => crypto.hash("sha256", data, "buffer")
  : (data) => crypto.createHash("sha256").update(data).digest();

/** The cpu task: h = id as 8 big-endian bytes; h = SHA-256(h) K times; the first 8 bytes. */
function sha256Chain(id, rounds) {
  let h = Buffer.alloc(8);
  h.writeBigUInt64BE(BigInt(id));
  for (let i = 0; i < rounds; i++) h = sha256(h);
  return h.readBigUInt64BE(0);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One GET /query on a fresh connection; node:http reads chunked bodies as well as any. */
function get(args, id) {
  return new Promise((resolve, fail) => {
    let settled = false;
    const settle = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) fail(error);
      else resolve(value);
    };
    const path = `/query?id=${id}&delay_ms=${args.ms}`;
    const request = http.get({ host: args.host, port: args.port, path, agent: false }, (res) => {
      const chunks = [];
      let size = 0;
      res.on("data", (chunk) => {
        size += chunk.length;
        if (size > MAX_BODY) {
          request.destroy(new Error(`malformed response: body over the ${MAX_BODY}-byte bound`));
        } else chunks.push(chunk);
      });
      res.on("error", () => settle(new Error(TRUNCATED)));
      res.on("close", () => {
        if (!res.complete) return settle(new Error(TRUNCATED));
        if (res.statusCode !== 200) return settle(new Error(`the service answered HTTP ${res.statusCode}`));
        const match = /"value"\s*:\s*(\d+)/.exec(Buffer.concat(chunks).toString());
        if (!match) return settle(new Error("malformed response: body is not the expected JSON"));
        settle(null, BigInt(match[1]));
      });
    });
    request.on("error", (e) => settle(httpError(args, e)));
    const timer = setTimeout(() => {
      settle(new Error(`the request timed out after ${args.timeoutMs} ms (--timeout-ms)`));
      request.destroy();
    }, args.timeoutMs);
  });
}

const TRUNCATED = "truncated response: the connection closed before it was complete";

function httpError(args, e) {
  if (e.code === "ECONNREFUSED") {
    return new Error(`connection refused to ${args.addr} (is the service running? \`make service\`)`);
  }
  if (e.code === "EMFILE" || e.code === "ENFILE") {
    return new Error(`${e.message} — limit to raise: RLIMIT_NOFILE (\`ulimit -n\`)`);
  }
  if (e.code === "ECONNRESET") return new Error(TRUNCATED);
  if (String(e.code).startsWith("HPE_")) return new Error(`malformed response: ${e.message}`);
  return e;
}

// ---- --offload: a worker_threads pool, Node's run_in_executor ----------------------------

/** One worker per core, each hashing the ids it is sent; results come back as messages. */
function pool(size) {
  const waiting = new Map();
  const queue = [];
  const idle = [];
  const workers = Array.from({ length: size }, () => {
    const worker = new Worker(new URL(import.meta.url));
    worker.on("message", ({ key, value, thread, began, ended }) => {
      waiting.get(key)([BigInt(value), thread, began, ended]);
      waiting.delete(key);
      next(worker);
    });
    worker.unref();
    return worker;
  });
  const next = (worker) => {
    const job = queue.shift();
    if (job) worker.postMessage(job);
    else idle.push(worker);
  };
  workers.forEach(next);
  let jobs = 0; // a job's key: a server may hash the same id for two clients at once
  return (id, rounds) =>
    new Promise((resolve) => {
      const key = jobs++;
      waiting.set(key, resolve);
      const worker = idle.pop();
      if (worker) worker.postMessage({ key, id, rounds });
      else queue.push({ key, id, rounds });
    });
}

if (!isMainThread) {
  parentPort.on("message", ({ key, id, rounds }) => {
    const began = performance.timeOrigin + performance.now(); // one clock across threads
    const value = String(sha256Chain(id, rounds));
    const ended = performance.timeOrigin + performance.now();
    parentPort.postMessage({ key, value, thread: threadId, began, ended });
  });
}

// ---- the run and its report --------------------------------------------------------------

/** A 10 ms timer on the loop: how late each tick fires shows how long the loop was held up. */
function pulse(ticks) {
  const lateMs = [];
  let due;
  let timer;
  const schedule = () => {
    due = performance.now() + 10;
    timer = setTimeout(() => {
      const now = performance.now();
      lateMs.push(now - due);
      ticks.push([due, now]);
      schedule();
    }, 10);
  };
  schedule();
  return () => {
    clearTimeout(timer);
    const now = performance.now();
    lateMs.push(Math.max(0, now - due)); // a tick still waited for counts as woken now
    if (now >= due) ticks.push([due, now]);
    return lateMs;
  };
}

async function main() {
  const args = contractArgs();
  const offload = args.offload ? pool(os.availableParallelism()) : null;
  if (args.serve) {
    const { serve } = await import("./node_serve.mjs");
    return serve(args, sha256Chain, offload);
  }
  let diskTask;
  if (args.workload === "disk") {
    try {
      diskTask = await openData(args);
    } catch (e) {
      process.stderr.write(`Error: ${e.message}\n`);
      process.exit(1);
    }
  }
  if (args.workload === "crawl") return crawlMain(args);
  const db = args.workload === "db" ? openDb(args) : null;
  const start = performance.now();
  const ticks = [];
  const stopPulse = args.workload === "cpu" ? pulse(ticks) : null;
  const since = (ms) => (ms - start) / 1000;
  const runTask = async (id) => {
    let value;
    let thread = threadId;
    let began = performance.now();
    let ended;
    if (args.workload === "sleep") {
      await sleep(args.ms);
      value = BigInt(id + 100);
    } else if (args.workload === "http") {
      value = await get(args, id);
    } else if (args.workload === "disk") {
      ({ value, began, ended } = await diskTask(id));
    } else if (db) {
      value = await db.run(id);
    } else if (offload) {
      // The worker's own times, on the clock every thread shares.
      [value, thread, began, ended] = await offload(id, args.work);
      [began, ended] = [began - performance.timeOrigin, ended - performance.timeOrigin];
    } else {
      // Its own turn of the loop, as an asyncio task gets: timers run between two tasks.
      value = await new Promise((resolve) =>
        setImmediate(() => {
          began = performance.now();
          resolve(sha256Chain(id, args.work));
        }),
      );
    }
    ended ??= performance.now();
    return { value, start: Math.max(0, since(began)), at: since(ended), took: ended - began, thread };
  };
  const run = args.workload === "brigade" ? brigade(args, since) : null;
  const outcomes = await Promise.all(
    Array.from({ length: args.tasks }, (_, id) =>
      (run ? run[id] : runTask(id)).then((ok) => ({ ok }), (error) => ({ error })),
    ),
  );
  const wall = (performance.now() - start) / 1000;
  await db?.close();
  const lag = stopPulse ? stopPulse() : null;
  if (args.timeline) writeTimeline(args.timeline, outcomes, ticks.map(([d, a]) => [since(d), since(a)]));
  process.exit(report(args, outcomes, wall, lag));
}

/** The crawl: its tasks found as it runs, each URL's outcome by its task id. */
async function crawlMain(args) {
  const start = performance.now();
  const c = await crawl(args);
  const wall = (performance.now() - start) / 1000;
  const since = (ms) => (ms - start) / 1000;
  const outcomes = Array(c.requested).fill(null);
  for (const [id, { ok, error }, began, ended] of c.outcomes) {
    outcomes[id] = ok ? { ok: { ...ok, start: Math.max(0, since(began)), at: since(ended), took: ended - began, thread: threadId } } : { error };
  }
  if (args.timeline) writeTimeline(args.timeline, outcomes.filter(Boolean), []);
  process.exit(report(args, outcomes, wall, null, c));
}

/** The brigade: an async function per task awaiting its mailbox, a promise; handing the
 * token on resolves the next task's, which runs it on the loop's microtask queue — no
 * system call, no thread. Returns each task's promise of its outcome. */
function brigade(args, since) {
  const h = BigInt(args.tasks) * BigInt(args.laps);
  const boxes = Array.from({ length: args.tasks }, () => mailbox());
  const tasks = boxes.map(async (box, i) => {
    const began = performance.now();
    let value = 0n;
    for (let lap = 0; lap < args.laps; lap++) {
      const c = await box.take();
      value += c;
      if (c + 1n < h) boxes[(i + 1) % args.tasks].put(c + 1n);
    }
    const ended = performance.now();
    return { value: value & 0xffffffffffffffffn, start: since(began), at: since(ended), took: ended - began, thread: threadId };
  });
  boxes[0].put(0n);
  return tasks;
}

/** A one-token mailbox: `take` waits for the next `put`. */
function mailbox() {
  let held = null;
  let waiter = null;
  return {
    put(c) {
      if (waiter) {
        const wake = waiter;
        waiter = null;
        wake(c);
      } else held = c;
    },
    take() {
      if (held !== null) {
        const c = held;
        held = null;
        return Promise.resolve(c);
      }
      return new Promise((resolve) => (waiter = resolve));
    },
  };
}

/** --timeline: one JSON line per task, then the pulse's ticks (CONTRACT.md, "Timeline"). */
function writeTimeline(path, outcomes, ticks) {
  const lines = [];
  outcomes.forEach(({ ok }, id) => {
    if (ok) lines.push(JSON.stringify({ id, start: ok.start, end: ok.at, pid: process.pid, tid: ok.thread }));
  });
  for (const [due, at] of ticks) lines.push(JSON.stringify({ tick_due: due, tick_at: at }));
  fs.writeFileSync(path, lines.map((l) => l + "\n").join(""));
}

function percentiles(values) {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const pick = (q) => v[Math.min(v.length, Math.max(1, Math.ceil(q * v.length))) - 1];
  const round = (x) => Math.round(x * 1000) / 1000;
  return { p50: round(pick(0.5)), p99: round(pick(0.99)), max: round(v[v.length - 1]) };
}

function report(args, outcomes, wall, lag, crawled = null) {
  let checksum = 0n;
  let failed = 0;
  let firstError = null;
  const finished = [];
  const latency = [];
  outcomes.forEach((outcome, id) => {
    if (outcome === null) return; // crawl: a URL that redirected, neither ok nor failed
    const { ok, error } = outcome;
    if (error) {
      failed++;
      firstError ??= error.message;
      if (args.verbose) process.stderr.write(`task ${id} failed: ${error.message}\n`);
      return;
    }
    checksum = (checksum + ok.value) & 0xffffffffffffffffn;
    finished.push(ok.at);
    latency.push(ok.took);
    if (args.verbose) {
      process.stderr.write(`task ${id} value ${ok.value} · pid ${process.pid} thread ${ok.thread} · at ${ok.at.toFixed(4)} s\n`);
    }
  });
  const timed = args.workload === "sleep" || args.workload === "http";
  const disk = args.workload === "disk";
  const onDb = args.workload === "db";
  // db: ceil(N / W) rounds of --ms with W connections (all N at once without a pool).
  const atOnce = disk ? Math.min(args.fileThreads, args.tasks) : onDb && args.workers ? Math.min(args.workers, args.tasks) : args.tasks;
  const ideal = timed || (onDb && args.ms > 0) ? (Math.ceil(args.tasks / atOnce) * args.ms) / 1000 : null;
  const each = args.ms / 1000;
  const lateness = timed
    ? percentiles(finished.sort((a, b) => a - b).map((t) => (t - each) * 1000)) // all N at once
    : null;
  const usage = process.resourceUsage();
  const tasks = crawled ? crawled.requested : args.tasks;
  const oks = finished.length;
  const r = {
    model: MODEL, workload: args.workload, tasks, workers: disk ? args.fileThreads : crawled ? crawled.mostInFlight : 1,
    concurrency: atOnce,
    ms: timed || onDb ? args.ms : null, work: args.workload === "cpu" ? args.work : null, offload: args.offload,
    ok: oks, failed, checksum, wall_s: wall, ideal_s: ideal,
    user_s: usage.userCPUTime / 1e6, sys_s: usage.systemCPUTime / 1e6, max_rss_kib: usage.maxRSS,
    children_max_rss_kib_sum: 0, voluntary_ctx_switches: usage.voluntaryContextSwitches,
    involuntary_ctx_switches: usage.involuntaryContextSwitches, lateness_ms: lateness,
    loop_lag_ms: lag ? percentiles(lag) : null, first_error: firstError,
    peak_threads: threadsNow(), iops: disk ? (args.tasks - failed) / wall : null,
    latency_ms: disk ? percentiles(latency) : null, qps: onDb ? (args.tasks - failed) / wall : null,
    ...(crawled ? { crawl: crawled.report(wall, percentiles) } : {}),
  };
  if (args.workload === "brigade") {
    const h = args.tasks * args.laps;
    Object.assign(r, {
      laps: args.laps, handoffs: h, ns_per_handoff: (wall * 1e9) / h,
      voluntary_per_handoff: usage.voluntaryContextSwitches / h,
      involuntary_per_handoff: usage.involuntaryContextSwitches / h,
      user_ns_per_handoff: (usage.userCPUTime * 1e3) / h, sys_ns_per_handoff: (usage.systemCPUTime * 1e3) / h,
    });
  }
  if (args.json) {
    // u64 checksums exceed a double: written as the exact integer.
    const text = JSON.stringify(r, (_, v) => (typeof v === "bigint" ? `BIG${v}` : v));
    process.stdout.write(text.replace(/"BIG(\d+)"/g, "$1") + "\n");
  } else {
    const idealText = ideal !== null ? ` (ideal ${ideal.toFixed(4)} s)` : "";
    const dbText = onDb ? ` · ${r.qps.toFixed(0)} queries/s` : "";
    const lagText = r.loop_lag_ms ? ` · loop lag max ${r.loop_lag_ms.max.toFixed(1)} ms` : "";
    const failedText = failed ? ` · ${failed} failed` : "";
    const crawlText = crawled ? crawlLine(r.crawl) : "";
    const brigadeText = r.ns_per_handoff ? ` · ${r.ns_per_handoff.toFixed(0)} ns a hand-off` : "";
    const diskText = r.latency_ms
      ? ` · ${r.iops.toFixed(0)} IOPS, p50 ${r.latency_ms.p50.toFixed(3)} ms, p99 ${r.latency_ms.p99.toFixed(3)} ms`
      : "";
    process.stdout.write(
      `${MODEL} · ${args.workload} · ${tasks} task${tasks === 1 ? "" : "s"} · ${wall.toFixed(4)} s${idealText} · ` +
        `peak RSS ${(usage.maxRSS / 1024).toFixed(1)} MiB${lagText}${brigadeText}${diskText}${dbText}${crawlText} · checksum ${checksum}${failedText}\n`,
    );
  }
  if (crawled) {
    const fatal = crawled.fatal(firstError);
    if (fatal) {
      process.stderr.write(`Error: the crawl failed: ${fatal}\n`);
      return 1;
    }
    if (failed) process.stderr.write(`${failed} of ${tasks} URLs failed (findings, not errors of the crawl); the first: ${firstError}\n`);
    return 0;
  }
  if (failed) {
    process.stderr.write(`Error: ${failed} of ${args.tasks} tasks failed; the first: ${firstError}\n`);
    return 1;
  }
  return 0;
}

/** The crawl's part of the human line, as the Rust models print it. */
function crawlLine(c) {
  const kinds = Object.entries(c.failures).map(([kind, n]) => `${n} ${kind}`);
  return ` · ${c.pages} pages (${c.pages_per_s.toFixed(0)}/s), ${c.redirects} redirects, ${c.retries} retries` +
    (kinds.length ? `, failed: ${kinds.join(", ")}` : "") + (c.limited ? " · limited at --tasks" : "");
}

if (isMainThread) main();
