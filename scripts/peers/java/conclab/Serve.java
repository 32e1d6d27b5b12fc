// java-virtual --serve and java-threads --serve: a ServerSocket, and a thread per connection
// that reads its requests with blocking calls — a virtual thread each (unmounted while it
// waits for bytes or sleeps a /query delay), or a platform thread each (a pool of W with
// --workers). Written on sockets rather than jdk.httpserver, so that both executors run the
// same code and the contract's limits (8 KiB heads, --timeout-ms) are the server's own.
package conclab;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicLong;

final class Serve {
    private static final int MAX_HEAD = 8 * 1024;
    private static final long MOST_ID = 4_294_967_295L;

    private final Args a;
    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong open = new AtomicLong();
    private final AtomicLong mostOpen = new AtomicLong();
    /** Requests being answered now: the stop waits for them. */
    private final AtomicLong inFlight = new AtomicLong();
    /** Open connections, and whether each is answering a request (busy) or waiting (idle). */
    private final Set<Conn> conns = ConcurrentHashMap.newKeySet();
    private volatile boolean stopping;
    private long lastRefusal;

    private Serve(Args a) {
        this.a = a;
    }

    /** One connection: its socket, and whether it is answering a request now. */
    private static final class Conn {
        final Socket socket;
        volatile boolean busy;

        Conn(Socket socket) {
            this.socket = socket;
        }
    }

    static int run(Args a) {
        InetSocketAddress where = Args.hostPort("serve", a.serve);
        ServerSocket listener;
        try {
            listener = new ServerSocket();
            listener.bind(new InetSocketAddress(where.getHostString(), where.getPort()), 4096);
        } catch (IOException e) {
            System.err.println("Error: " + cannotListen(a.serve, where, e));
            return 1;
        }
        Serve s = new Serve(a);
        long start = System.nanoTime();
        String bound = listener.getInetAddress().getHostAddress() + ":" + listener.getLocalPort();
        ExecutorService pool = Executors.forConnections(a.workers);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> s.stop(listener, bound, start)));
        System.out.println("listening on " + bound);
        System.out.flush();
        while (!s.stopping) {
            Socket socket;
            try {
                socket = listener.accept();
            } catch (IOException e) {
                if (!s.stopping) {
                    s.refusing(e.getMessage(), "RLIMIT_NOFILE (`ulimit -n`)");
                    sleepQuietly(10);
                }
                continue;
            }
            s.connections.incrementAndGet();
            Conn conn = new Conn(socket);
            try {
                pool.execute(() -> s.serve(conn));
            } catch (OutOfMemoryError e) {
                // No thread for it (pthread_create's EAGAIN): refused, and the rest served.
                s.refused.incrementAndGet();
                s.refusing(e.getMessage(), "RLIMIT_NPROC (`ulimit -u`) or vm.max_map_count");
                closeQuietly(socket);
            }
        }
        sleepQuietly(Long.MAX_VALUE); // the stop's hook ends the process
        return 0;
    }

    /** Name a limit met on stderr, at most once a second. */
    private synchronized void refusing(String error, String limit) {
        long now = System.nanoTime();
        if (now - lastRefusal >= 1_000_000_000L) {
            lastRefusal = now;
            System.err.println("refusing connections: " + error + " — limit to raise: " + limit);
        }
    }

    /** SIGINT or SIGTERM: stop accepting, close idle connections, finish the requests in flight, report. */
    private void stop(ServerSocket listener, String bound, long start) {
        stopping = true;
        closeQuietly(listener);
        for (Conn c : conns) {
            if (!c.busy) {
                closeQuietly(c.socket);
            }
        }
        while (inFlight.get() > 0) {
            sleepQuietly(5);
        }
        Proc.Usage u = Proc.usage();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", Args.MODEL);
        r.put("serve", bound);
        r.put("workers", a.workers > 0 && !Args.VIRTUAL ? a.workers : mostOpen.get());
        r.put("offload", false);
        r.put("connections", connections.get());
        r.put("requests", requests.get());
        r.put("rejected", rejected.get());
        r.put("errors", errors.get());
        r.put("refused", refused.get());
        r.put("wall_s", (System.nanoTime() - start) / 1e9);
        u.into(r, "children_max_rss_kib");
        if (a.json) {
            System.out.println(Report.Json.of(r));
        } else {
            System.out.printf(Locale.ROOT, "%s · served %s on %s · %d answered 4xx · %s · %.3f s · peak RSS %.1f MiB%n",
                    Args.MODEL, counted(requests.get(), "request"), counted(connections.get(), "connection"),
                    rejected.get(), counted(errors.get(), "error"), r.get("wall_s"), u.maxRssKib() / 1024.0);
        }
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    private static String counted(long n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    /** A connection's requests, one after another, until it closes, is too slow, or the server stops. */
    private void serve(Conn c) {
        mostOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
        conns.add(c);
        try (Socket socket = c.socket) {
            if (stopping) {
                return;
            }
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            byte[] buf = new byte[MAX_HEAD + 1024];
            int len = 0;
            long deadline = System.nanoTime() + a.timeoutMs * 1_000_000;
            while (true) {
                int end = Http.find(buf, 0, len, "\r\n\r\n");
                if (end < 0 || end + 4 > MAX_HEAD) {
                    if (len >= MAX_HEAD || end + 4 > MAX_HEAD) {
                        answer(c, out, 431, "{\"error\":\"request head over 8 KiB\"}", true);
                        return;
                    }
                    long left = (deadline - System.nanoTime()) / 1_000_000;
                    if (left <= 0) {
                        errors.incrementAndGet(); // too slow: closed
                        return;
                    }
                    socket.setSoTimeout((int) Math.min(left, Integer.MAX_VALUE));
                    int n;
                    try {
                        n = in.read(buf, len, buf.length - len);
                    } catch (SocketTimeoutException e) {
                        errors.incrementAndGet();
                        return;
                    }
                    if (n < 0) {
                        if (len > 0) {
                            errors.incrementAndGet(); // a request cut short
                        }
                        return;
                    }
                    len += n;
                    continue;
                }
                c.busy = true;
                inFlight.incrementAndGet();
                boolean keepAlive;
                try {
                    keepAlive = request(c, out, new String(buf, 0, end, StandardCharsets.ISO_8859_1));
                } finally {
                    inFlight.decrementAndGet();
                    c.busy = false;
                }
                if (!keepAlive || stopping) {
                    return;
                }
                System.arraycopy(buf, end + 4, buf, 0, len - end - 4);
                len -= end + 4;
                deadline = System.nanoTime() + a.timeoutMs * 1_000_000;
            }
        } catch (IOException e) {
            if (!stopping) {
                errors.incrementAndGet(); // a reset, a broken pipe: the client's doing
            }
        } finally {
            conns.remove(c);
            open.decrementAndGet();
        }
    }

    /** Answer one request's head; whether the connection stays open. */
    private boolean request(Conn c, OutputStream out, String head) throws IOException {
        String[] lines = head.split("\r\n", -1);
        String[] line = lines[0].split(" ", -1);
        if (line.length != 3 || !line[2].matches("HTTP/1\\.[01]") || !line[1].startsWith("/")) {
            return answer(c, out, 400, "{\"error\":\"bad request\"}", true);
        }
        String connection = "";
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0) {
                return answer(c, out, 400, "{\"error\":\"bad request\"}", true);
            }
            String name = lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT);
            String value = lines[i].substring(colon + 1).strip().toLowerCase(Locale.ROOT);
            boolean body = name.equals("transfer-encoding") || (name.equals("content-length") && !value.matches("0+"));
            if (body) {
                return answer(c, out, 400, "{\"error\":\"bad request\"}", true);
            }
            if (name.equals("connection")) {
                connection = value;
            }
        }
        if (!line[0].equals("GET")) {
            return answer(c, out, 400, "{\"error\":\"bad request\"}", true);
        }
        boolean close = line[2].equals("HTTP/1.0") ? !connection.equals("keep-alive") : connection.equals("close");
        String target = line[1];
        int q = target.indexOf('?');
        String path = q < 0 ? target : target.substring(0, q);
        Map<String, String> params = new LinkedHashMap<>();
        if (q >= 0) {
            for (String pair : target.substring(q + 1).split("&")) {
                int eq = pair.indexOf('=');
                params.putIfAbsent(eq < 0 ? pair : pair.substring(0, eq), eq < 0 ? "" : pair.substring(eq + 1));
            }
        }
        boolean takesId = path.equals("/query") || path.equals("/cpu");
        Long id = takesId ? number(params, "id", -1, MOST_ID) : null;
        if (takesId && id == null) {
            return refuse(c, out, path, "id", MOST_ID);
        }
        switch (path) {
            case "/health":
                return answer(c, out, 200, "{\"status\":\"ok\"}", close);
            case "/query": {
                Long delay = number(params, "delay_ms", 0, 60_000);
                if (delay == null) {
                    return refuse(c, out, path, "delay_ms", 60_000);
                }
                try {
                    Thread.sleep(delay);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
                return answer(c, out, 200, "{\"id\":" + id + ",\"value\":" + (id + 100) + "}", close);
            }
            case "/cpu": {
                Long work = number(params, "work", 100_000, 10_000_000);
                if (work == null) {
                    return refuse(c, out, path, "work", 10_000_000);
                }
                long value = Cpu.chain(id, work);
                return answer(c, out, 200, "{\"id\":" + id + ",\"value\":" + Long.toUnsignedString(value) + "}", close);
            }
            default:
                return answer(c, out, 404, "{\"error\":\"not found\"}", close);
        }
    }

    /** The parameter `name`: absent, `fallback` (-1: required); null when it is wrong. */
    private static Long number(Map<String, String> params, String name, long fallback, long most) {
        String text = params.get(name);
        if (text == null) {
            return fallback >= 0 ? fallback : null;
        }
        if (!text.matches("[0-9]{1,19}")) {
            return null;
        }
        long v = Long.parseLong(text);
        return v <= most ? v : null;
    }

    private boolean refuse(Conn c, OutputStream out, String path, String name, long most) throws IOException {
        String why = path + " needs " + name + ", a whole number from 0 to " + most;
        return answer(c, out, 400, "{\"error\":" + Report.Json.of(why) + "}", true);
    }

    /** Write one answer; whether the connection stays open after it. */
    private boolean answer(Conn c, OutputStream out, int status, String body, boolean close) throws IOException {
        close = close || stopping;
        if (status == 200) {
            requests.incrementAndGet();
        } else {
            rejected.incrementAndGet(); // a 4xx is an answer, not a failure of the server
        }
        String reason = switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            default -> "Request Header Fields Too Large";
        };
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: application/json\r\nContent-Length: "
                + b.length + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n";
        out.write((head + body).getBytes(StandardCharsets.UTF_8));
        out.flush();
        return !close;
    }

    /** Why a bind refused `addr`, in the Rust models' words, with what to do. */
    private static String cannotListen(String text, InetSocketAddress where, IOException e) {
        String reason = "cannot listen on " + text + ": " + e.getMessage();
        String m = String.valueOf(e.getMessage());
        String host = where.getHostString();
        int port = where.getPort();
        if (m.contains("Cannot assign requested address") || m.contains("Unresolved")) {
            return reason + " — " + host + " is not an address of this machine (`ip -brief address` lists them;"
                    + " 127.0.0.1 or 0.0.0.0 always are)";
        }
        if (m.contains("Permission denied")) {
            return reason + " — port " + port + " is below 1024, which only root or a program with"
                    + " CAP_NET_BIND_SERVICE may take (net.ipv4.ip_unprivileged_port_start); pick a port from 1024 up";
        }
        if (e instanceof BindException && m.contains("in use")) {
            return reason + " — another program listens on port " + port + " (`ss -ltnp` names it): stop it,"
                    + " or pick another port (0: any free one)";
        }
        return reason;
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // Closing is all that was asked.
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
