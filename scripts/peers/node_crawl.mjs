// The crawl workload (CONTRACT.md, "crawl") for node-promises: W async workers on one loop
// — the 500-lines crawler's shape — fetching with undici's fetch through an Agent whose
// `connections` caps each origin's pool at --per-host, kept alive; links found by
// htmlparser2, to which <script> and <style> are raw text. URLs resolve with WHATWG's URL,
// the parser the Rust models' url crate follows. Parsing runs on the loop, between its waits.
//
// The frontier is the Rust models' workload::crawl, ported: a queue per origin (an origin
// at its --per-host limit holds up no other), the seen set, the retries waiting for their
// time, the figures.
import { performance } from "node:perf_hooks";
import { Parser } from "htmlparser2";
import { Agent, buildConnector, fetch } from "undici";

export const DEFAULT_SEED = "http://127.0.0.1:7880/";
export const DEFAULT_WORKERS = 10;
export const TASKS = 100000;
const MAX_BODY = 4 << 20;
const RETRIES = 2;
const RETRY_WAIT = 50;
const MOST_RETRY_WAIT = 1000;
const MOST_HOPS = 5;
const KINDS = ["timeout", "refused", "reset", "status", "too_large", "malformed", "redirects"];
const MASK = 0xffffffffffffffffn;

// ---- pages -------------------------------------------------------------------------------

function splitmix64(x) {
  let z = (x + 0x9e3779b97f4a7c15n) & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

function fnv1a64(text) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & MASK;
  return h;
}

const value = (url) => splitmix64(fnv1a64(url));

/** `href` resolved against `base` and normalized (WHATWG URL does the rest: lower case, port
 * 80, an empty path), or null if it names no http:// page. */
export function resolve(base, href) {
  let url;
  try {
    url = new URL(href, base);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" || !url.hostname) return null;
  url.hash = "";
  return url.href;
}

const originOf = (url) => new URL(url).origin;

/** The href of every <a>, its character references decoded. */
function links(body) {
  const hrefs = [];
  const parser = new Parser({
    onopentag(name, attrs) {
      if (name === "a" && attrs.href !== undefined) hrefs.push(attrs.href);
    },
  });
  parser.write(body.toString("utf8"));
  parser.end();
  return hrefs;
}

/** --seed and --allow, checked: [seeds, origins], or a reason. */
export function parseScope(seeds, allow) {
  const http = (flag, text) => {
    const url = /^http:\/\//i.test(text) ? resolve(undefined, text) : null;
    if (url === null) throw new Error(`${flag}: '${text}' is not an http:// URL`);
    return url;
  };
  const s = (seeds?.length ? seeds : [DEFAULT_SEED]).map((x) => http("--seed", x));
  const origins = new Set(s.map(originOf));
  for (const a of allow ?? []) origins.add(originOf(http("--allow", a)));
  return [s, origins];
}

// ---- the frontier, sans I/O ----------------------------------------------------------------

class Crawl {
  constructor(args, workers) {
    [this.seeds, this.scope] = args.scope;
    Object.assign(this, { mostUrls: args.tasks, mostInFlight: workers, perOrigin: args.perHost });
    this.origins = new Map();
    this.queues = [];
    this.busy = [];
    this.turn = 0;
    this.retries = []; // [when, origin, waiting], kept sorted by when
    this.seen = new Set();
    Object.assign(this, { inFlight: 0, requested: 0, waiting: 0, fresh: 0, open: 0, seedAnswered: false });
    this.latencies = [];
    this.outcomes = [];
    this.figures = { pages: 0, failures: {}, retries: 0, redirects: 0, bytes: 0, links: 0, unique: 0,
      peak_frontier: 0, peak_connections: 0, limited: false };
    this.outOf = null;
    for (const s of this.seeds) this.queue(s, 0);
    this.seedTasks = this.waiting;
  }

  queue(url, hops) {
    const name = originOf(url);
    if (!this.scope.has(name) || this.seen.has(url)) return;
    if (this.requested + this.fresh >= this.mostUrls) {
      this.figures.limited = true;
      return;
    }
    this.seen.add(url);
    if (!this.origins.has(name)) {
      this.origins.set(name, this.queues.length);
      this.queues.push([]);
      this.busy.push(0);
    }
    this.queues[this.origins.get(name)].push({ url, hops, retry: null });
    this.waiting++;
    this.fresh++;
    this.figures.peak_frontier = Math.max(this.figures.peak_frontier, this.waiting);
  }

  next(now) {
    // Due retries join their queues first, so that the next retry is always still to come.
    while (this.retries.length && this.retries[0][0] <= now) {
      const [, origin, w] = this.retries.shift();
      this.queues[origin].unshift(w);
      this.waiting++;
    }
    if (this.inFlight >= this.mostInFlight) return null;
    const n = this.queues.length;
    for (let k = 0; k < n; k++) {
      const at = (this.turn + k) % n;
      if (this.busy[at] >= this.perOrigin || !this.queues[at].length) continue;
      const w = this.queues[at].shift();
      this.turn = (at + 1) % n;
      this.waiting--;
      this.inFlight++;
      this.busy[at]++;
      if (w.retry === null) {
        this.fresh--;
        this.requested++;
        return { id: this.requested - 1, url: w.url, origin: at, attempt: 0, hops: w.hops, started: now };
      }
      return { ...w.retry, url: w.url, origin: at, hops: w.hops };
    }
    return null;
  }

  isOver() {
    return this.waiting === 0 && this.retries.length === 0 && this.inFlight === 0;
  }

  finish(f, got) {
    const now = performance.now();
    this.inFlight--;
    this.busy[f.origin]--;
    if (f.id < this.seedTasks && !got.kind) this.seedAnswered = true;
    if (got.kind === "reset" && f.attempt < RETRIES) return this.retry(f, RETRY_WAIT, now);
    if (got.kind) return this.failed(f, got, now);
    this.figures.bytes += got.bytes;
    if (got.status === 200) {
      for (const href of got.hrefs) {
        this.figures.links++;
        const url = resolve(f.url, href);
        if (url !== null) this.queue(url, 0);
      }
      this.figures.pages++;
      this.over(f, now, { ok: { value: value(f.url) } });
    } else if (got.status === 503 && f.attempt < RETRIES) {
      this.retry(f, got.retryAfter === null ? RETRY_WAIT : Math.min(got.retryAfter * 1000, MOST_RETRY_WAIT), now);
    } else if ([301, 302, 307, 308].includes(got.status) && got.location !== null) {
      if (f.hops >= MOST_HOPS) {
        return this.failed(f, { kind: "redirects", message: `${f.url}: more than ${MOST_HOPS} redirects` }, now);
      }
      const url = resolve(f.url, got.location);
      if (url !== null) this.queue(url, f.hops + 1);
      this.figures.redirects++;
      this.latencies.push(now - f.started);
    } else {
      this.failed(f, { kind: "status", message: `${f.url}: HTTP ${got.status}` }, now);
    }
  }

  retry(f, wait, now) {
    this.figures.retries++;
    const w = { url: f.url, hops: f.hops, retry: { id: f.id, attempt: f.attempt + 1, started: f.started } };
    this.retries.push([now + wait, f.origin, w]);
    this.retries.sort((a, b) => a[0] - b[0]);
  }

  failed(f, got, now) {
    this.figures.failures[got.kind] = (this.figures.failures[got.kind] ?? 0) + 1;
    const message = got.limit ? `${got.message} — limit to raise: ${got.limit}` : got.message;
    if (got.limit) this.outOf ??= message;
    this.over(f, now, { error: new Error(message) });
  }

  over(f, now, outcome) {
    this.latencies.push(now - f.started);
    this.outcomes.push([f.id, outcome, f.started, now]);
  }

  churned(opened, closed) {
    this.open += opened;
    this.figures.peak_connections = Math.max(this.figures.peak_connections, this.open);
    this.open -= closed;
  }

  report(wall, percentiles) {
    const failures = {};
    for (const k of KINDS) if (this.figures.failures[k]) failures[k] = this.figures.failures[k];
    return { ...this.figures, failures, unique: this.seen.size, pages_per_s: this.figures.pages / wall,
      latency_ms: percentiles(this.latencies) };
  }

  fatal(firstError) {
    if (this.outOf) return this.outOf;
    if (!this.seedAnswered && this.requested > 0) return `no seed answered: ${firstError}`;
    return null;
  }
}

// ---- the fetch -------------------------------------------------------------------------------

function failure(url, e) {
  const cause = e.cause ?? e;
  const code = cause.code ?? "";
  const why = `${url}: ${cause.message || code}`;
  if (code === "EMFILE" || code === "ENFILE") return { kind: "refused", message: why, limit: "`ulimit -n` (RLIMIT_NOFILE)" };
  if (code === "EADDRNOTAVAIL") return { kind: "refused", message: why, limit: "the ephemeral ports: net.ipv4.ip_local_port_range" };
  if (e.name === "TimeoutError" || cause.name === "TimeoutError" || /TIMEOUT/.test(code)) {
    return { kind: "timeout", message: `${url}: timed out (--timeout-ms)` };
  }
  if (["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND"].includes(code)) return { kind: "refused", message: why };
  if (code.startsWith("HPE_")) return { kind: "malformed", message: why };
  return { kind: "reset", message: why };
}

async function fetchPage(url, agent, timeoutMs) {
  try {
    const r = await fetch(url, { dispatcher: agent, redirect: "manual", signal: AbortSignal.timeout(timeoutMs),
      headers: { "user-agent": "conclab" } });
    const tooLarge = { kind: "too_large", message: `${url}: a body over ${MAX_BODY} bytes` };
    if (Number(r.headers.get("content-length") ?? 0) > MAX_BODY) {
      await r.body?.cancel();
      return tooLarge;
    }
    const chunks = [];
    let bytes = 0;
    for await (const chunk of r.body ?? []) {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes > MAX_BODY) return tooLarge;
    }
    const body = Buffer.concat(chunks);
    const media = (r.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    const after = (r.headers.get("retry-after") ?? "").trim();
    return { status: r.status, location: r.headers.get("location"), retryAfter: /^\d+$/.test(after) ? Number(after) : null,
      bytes, hrefs: r.status === 200 && media === "text/html" ? links(body) : [] };
  } catch (e) {
    return failure(url, e);
  }
}

/** The crawl, to its end: the outcomes by task, and the Crawl for the report. */
export async function crawl(args) {
  const workers = args.workers ?? DEFAULT_WORKERS;
  const c = new Crawl(args, workers);
  const base = buildConnector({ timeout: args.timeoutMs });
  // Every connection opened, and its closing: --per-host counts connections.
  const connect = (options, done) =>
    base(options, (err, socket) => {
      if (!err) {
        c.churned(1, 0);
        socket.once("close", () => c.churned(0, 1));
      }
      done(err, socket);
    });
  const agent = new Agent({ connections: args.perHost, connect, headersTimeout: 0, bodyTimeout: 0 });
  let wake = null; // the idle workers wait on one promise, resolved when something changes
  let waiter = null;
  const changed = () => {
    const w = wake;
    wake = waiter = null;
    w?.();
  };
  const idle = () => (waiter ??= new Promise((resolve) => (wake = resolve)));
  const worker = async () => {
    for (;;) {
      if (c.isOver() || c.outOf) return changed();
      const f = c.next(performance.now());
      if (f === null) {
        const due = c.retries[0]?.[0];
        const timer = due === undefined ? null : setTimeout(changed, Math.max(due - performance.now(), 0.5));
        await idle();
        clearTimeout(timer);
        continue;
      }
      const got = await fetchPage(f.url, agent, args.timeoutMs);
      c.finish(f, got);
      changed();
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  await agent.close();
  return c;
}
