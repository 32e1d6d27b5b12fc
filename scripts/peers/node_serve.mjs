// node-promises --serve: node:http on the one libuv loop.
//
// The server Node programmers write. Every connection lives on the loop: a /query delay is
// setTimeout, a /cpu hash runs on the loop and holds up every connection until it is done,
// or with --offload goes to the worker_threads pool. The contract's limits are the
// server's own settings: maxHeaderSize (431 beyond 8 KiB), headersTimeout and
// keepAliveTimeout (--timeout-ms); a request node:http cannot parse gets 400 and a close.
import http from "node:http";

const MAX_DELAY_MS = 60_000;
const MAX_WORK = 10_000_000;

export function serve(args, sha256Chain, offload) {
  const counts = { connections: 0, requests: 0, rejected: 0, errors: 0 };
  const send = (res, status, body, close) => {
    if (status === 200) counts.requests++;
    else counts.rejected++; // a 4xx is an answer, not a failure of the server
    const headers = { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) };
    if (close) headers.Connection = "close";
    res.writeHead(status, headers);
    res.end(body);
  };
  const number = (query, name, fallback, most) => {
    const text = query.get(name);
    if (text === null) return fallback;
    return /^\d+$/.test(text) && Number(text) <= most ? Number(text) : null;
  };
  let stopping = false;
  const options = {
    maxHeaderSize: 8 * 1024,
    keepAliveTimeout: args.timeoutMs,
    headersTimeout: args.timeoutMs,
    // How often node:http checks headersTimeout: 30 s by default, which would let a slow
    // client hold its connection that long whatever the timeout.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, args.timeoutMs / 4)),
  };
  const sockets = new Set(); // to close the idle ones at the stop
  const server = http.createServer(options, async (req, res) => {
    req.socket.busy = true;
    res.on("finish", () => (req.socket.busy = false));
    const close = stopping;
    if (req.method !== "GET" || (req.headers["content-length"] ?? "0") !== "0" || req.headers["transfer-encoding"]) {
      return send(res, 400, '{"error":"bad request"}', true);
    }
    const url = new URL(req.url, "http://server");
    // The contract's 400 names the parameter missing or wrong.
    const refuse = (name, most) =>
      send(res, 400, JSON.stringify({ error: `${url.pathname} needs ${name}, a whole number from 0 to ${most}` }), true);
    const id = number(url.searchParams, "id", null, 2 ** 32 - 1);
    if (url.pathname === "/health") return send(res, 200, '{"status":"ok"}', close);
    if (url.pathname === "/query") {
      const delay = number(url.searchParams, "delay_ms", 0, MAX_DELAY_MS);
      if (id === null) return refuse("id", 2 ** 32 - 1);
      if (delay === null) return refuse("delay_ms", MAX_DELAY_MS);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      return send(res, 200, `{"id":${id},"value":${id + 100}}`, stopping);
    }
    if (url.pathname === "/cpu") {
      const work = number(url.searchParams, "work", 100_000, MAX_WORK);
      if (id === null) return refuse("id", 2 ** 32 - 1);
      if (work === null) return refuse("work", MAX_WORK);
      const value = offload ? (await offload(id, work))[0] : sha256Chain(id, work);
      return send(res, 200, `{"id":${id},"value":${value}}`, stopping);
    }
    return send(res, 404, '{"error":"not found"}', close);
  });
  server.requestTimeout = args.timeoutMs + 60_000 + 10_000; // past the longest delay allowed
  server.on("connection", (socket) => {
    counts.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("clientError", (err, socket) => {
    if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      counts.errors++;
      socket.destroy(); // too slow: closed, as in every model
    } else if (socket.writable && !socket.destroyed) {
      counts.rejected++;
      const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      const body = err.code === "HPE_HEADER_OVERFLOW" ? '{"error":"header too large"}' : '{"error":"bad request"}';
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    } else {
      counts.errors++;
      socket.destroy();
    }
  });
  let named = 0;
  server.on("error", (err) => {
    if (!server.listening) {
      process.stderr.write(`Error: ${cannotListen(args.serve, err)}\n`);
      process.exit(1);
    }
    if (Date.now() - named >= 1000) {
      named = Date.now();
      process.stderr.write(`refusing connections: ${err.message} — limit to raise: \`ulimit -n\` (RLIMIT_NOFILE)\n`);
    }
  });
  const start = performance.now();
  server.listen({ host: args.serve.host, port: args.serve.port, backlog: 4096 }, () => {
    const { address, port } = server.address();
    args.serve.bound = `${address}:${port}`; // the report gives the port the kernel chose
    process.stdout.write(`listening on ${address}:${port}\n`);
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Stop accepting; idle keep-alive connections close now, busy ones after their answer.
    server.close(() => report(args, counts, start));
    server.closeIdleConnections();
    for (const socket of sockets) if (!socket.busy) socket.destroy(); // no request yet

  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

const counted = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

function report(args, counts, start) {
  const usage = process.resourceUsage();
  const r = {
    model: "node-promises", serve: args.serve.bound ?? args.serve.text, workers: 1, offload: args.offload,
    ...counts, refused: 0, wall_s: (performance.now() - start) / 1000,
    user_s: usage.userCPUTime / 1e6, sys_s: usage.systemCPUTime / 1e6, max_rss_kib: usage.maxRSS,
    children_max_rss_kib: 0, voluntary_ctx_switches: usage.voluntaryContextSwitches,
    involuntary_ctx_switches: usage.involuntaryContextSwitches,
  };
  process.stdout.write(
    args.json
      ? `${JSON.stringify(r)}\n`
      : `node-promises · served ${counted(r.requests, "request")} on ${counted(r.connections, "connection")} · ` +
          `${r.rejected} answered 4xx · ${counted(r.errors, "error")} · ${r.wall_s.toFixed(3)} s · ` +
          `peak RSS ${(r.max_rss_kib / 1024).toFixed(1)} MiB\n`,
  );
  process.exit(0);
}

// Why a bind refused `addr`, in the Rust models' words, with what to do.
function cannotListen(addr, err) {
  const reason = `cannot listen on ${addr.text}: ${err.message}`;
  const advice = {
    EADDRNOTAVAIL: `${addr.host} is not an address of this machine (\`ip -brief address\` lists them; 127.0.0.1 or 0.0.0.0 always are)`,
    EACCES: `port ${addr.port} is below 1024, which only root or a program with CAP_NET_BIND_SERVICE may take (net.ipv4.ip_unprivileged_port_start); pick a port from 1024 up`,
    EADDRINUSE: `another program listens on port ${addr.port} (\`ss -ltnp\` names it): stop it, or pick another port (0: any free one)`,
  }[err.code];
  return advice ? `${reason} — ${advice}` : reason;
}
