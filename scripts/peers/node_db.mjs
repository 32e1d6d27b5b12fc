// The db workload for node-promises (CONTRACT.md, "db"): the `pg` package (node-postgres),
// a Client per task, or with --workers W its Pool of W. Each query is a named statement
// (`name: "conclab"`), which pg prepares once per connection and then only binds and
// executes: the extended protocol, parameters bound, never SQL built from strings.
import fs from "node:fs";

import pg from "pg";

const MANAGED_URL_FILE = "data/db/url";
const MISSING = "no such row in items: --rows is more than the table holds";

// `text` masked as CONTRACT.md says: from its first `:` after the scheme's `//` (or after its
// start) to its last `@`, `***`; with no `@`, everything after that `:`.
export function mask(text) {
  const at = text.lastIndexOf("@");
  const head = at >= 0 ? text.slice(0, at) : text;
  const start = head.includes("://") ? head.indexOf("://") + 3 : 0;
  const colon = head.indexOf(":", start);
  if (colon < 0) return text;
  return text.slice(0, colon) + ":***" + (at >= 0 ? text.slice(at) : "");
}

// postgres://user[:password]@host[:port]/dbname, as the Rust models take it; the reason for
// a refusal never shows the password. Returns [url, null] or [null, reason].
export function parseDbUrl(text) {
  const shown = mask(text);
  const bad = (why) => [null, `'${shown}' is not a PostgreSQL URL: ${why}`];
  const m = /^postgres(?:ql)?:\/\/([^@/]*)@([^/?]*)\/([^?]*)(?:\?(.*))?$/.exec(text);
  if (!m) return bad("say postgres://user[:password]@host[:port]/dbname");
  const [, credentials, hostport, dbname, query] = m;
  for (const param of (query ?? "").split("&").filter(Boolean)) {
    if (param !== "sslmode=disable" && param !== "sslmode=prefer") return bad(`'${param}' is not taken (only sslmode=disable)`);
  }
  const colon = credentials.indexOf(":");
  const user = decodeURIComponent(colon < 0 ? credentials : credentials.slice(0, colon));
  const password = colon < 0 ? process.env.PGPASSWORD : decodeURIComponent(credentials.slice(colon + 1));
  if (!user || !dbname) return bad("the user and the database must not be empty");
  const h = /^\[([^\]]+)\](?::(.*))?$|^([^:]+)(?::(.*))?$/.exec(hostport);
  if (!h) return bad("the host is empty");
  const [host, port] = h[1] ? [h[1], h[2]] : [h[3], h[4]];
  if (port !== undefined && !(/^\d+$/.test(port) && Number(port) > 0 && Number(port) < 65536)) return bad(`'${port}' is not a port`);
  return [{ user, password, host, port: Number(port ?? 5432), database: decodeURIComponent(dbname), where: hostport }, null];
}

export function defaultDbUrl() {
  try {
    return fs.readFileSync(MANAGED_URL_FILE, "utf8").trim();
  } catch {
    const user = process.env.USER ?? "postgres";
    return `postgres://${user}@127.0.0.1:5432/${user}`;
  }
}

function statement(args) {
  const wait = args.ms > 0;
  if (args.write) {
    return `UPDATE items SET hits = hits + 1${wait ? " FROM pg_sleep($2) AS s" : ""} WHERE id = $1 RETURNING value`;
  }
  return `SELECT value FROM items${wait ? ", pg_sleep($2)" : ""} WHERE id = $1`;
}

// A driver's error, said as the Rust models say it: the server's severity, SQLSTATE and
// message; at max_connections the limit and the pool to use.
function failure(args, e) {
  const where = args.db.where;
  if (e.code === "ECONNREFUSED") return new Error(`connection refused by ${where} (is PostgreSQL running? \`make db\`, or --db-url)`);
  if (/timeout/i.test(e.message) || e.code === "57014") return new Error(`the query timed out after ${args.timeoutMs} ms (--timeout-ms)`);
  if (!/^[0-9A-Z]{5}$/.test(e.code ?? "")) return new Error(`PostgreSQL at ${where}: ${e.message}`);
  let text = `PostgreSQL at ${where}: ${e.severity ?? "ERROR"} ${e.code}: ${e.message}`;
  if (e.code === "53300") text += " — limit to raise: max_connections on the server; or share fewer connections: a pool, --workers W";
  return new Error(text);
}

// The run's query(id): on a Client of its own, or on one of the Pool's.
export function openDb(args) {
  const u = args.db;
  const config = {
    host: u.host, port: u.port, user: u.user, password: u.password, database: u.database,
    application_name: "conclab", query_timeout: args.timeoutMs, connectionTimeoutMillis: args.timeoutMs,
    ...(args.write ? { options: "-c synchronous_commit=on" } : {}),
  };
  // A task may wait its turn for one of the pool's connections as long as it takes: the
  // timeout bounds the query, not the wait.
  const pool = args.workers ? new pg.Pool({ ...config, connectionTimeoutMillis: 0, max: args.workers }) : null;
  const text = statement(args);
  // A connection the server ends also emits 'error' on its Client, which would end the
  // process unhandled: the query in flight rejects with the same error, and is counted.
  const quiet = (client) => client.listenerCount("error") > 1 || client.on("error", () => {});
  pool?.on("error", () => {}); // an idle connection lost: the pool drops it
  const query = async (client, id) => {
    quiet(client);
    const row = id % args.rows + 1;
    const values = args.ms > 0 ? [row, args.ms / 1000] : [row];
    const result = await client.query({ name: "conclab", text, values, rowMode: "array" });
    if (result.rows.length === 0) throw new Error(MISSING);
    return BigInt(result.rows[0][0]); // an int8 arrives as text: exact as a BigInt
  };
  const run = async (id) => {
    try {
      if (pool) return await withPool(pool, (c) => query(c, id));
      const client = new pg.Client(config);
      quiet(client);
      await client.connect();
      try {
        return await query(client, id);
      } finally {
        await client.end();
      }
    } catch (e) {
      if (e.message === MISSING) throw e;
      throw failure(args, e);
    }
  };
  return { run, close: () => pool?.end() };
}

async function withPool(pool, use) {
  const client = await pool.connect();
  let broken;
  try {
    return await use(client);
  } catch (e) {
    if (!/^[0-9A-Z]{5}$/.test(e.code ?? "") && e.message !== MISSING) broken = e; // the connection is lost
    throw e;
  } finally {
    client.release(broken);
  }
}
