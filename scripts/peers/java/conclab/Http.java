// The http task (CONTRACT.md, "Task i"): one GET /query on a fresh blocking Socket with
// `Connection: close`, read to the close, bounded by --timeout-ms as a whole. On a virtual
// thread the blocking connect and read unmount it, and the JDK's poller (epoll) wakes it;
// on a platform thread they block the thread in the kernel.
package conclab;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class Http {
    private static final String TRUNCATED = "truncated response: the connection closed before it was complete";
    private static final int MAX_HEAD = 16 * 1024;
    private static final int MAX_BODY = 64 * 1024;
    private static final Pattern VALUE = Pattern.compile("\"value\"\\s*:\\s*([0-9]+)");

    private final Args a;
    private final InetSocketAddress to;

    Http(Args a) {
        this.a = a;
        InetSocketAddress resolved = new InetSocketAddress(a.addr.getHostString(), a.addr.getPort());
        if (resolved.isUnresolved()) {
            System.err.println("Error: --addr: no address for the host " + a.addr.getHostString()
                    + " (the resolver knows no such name; check it, or name an IP address)");
            Report.exit(1);
        }
        this.to = resolved;
    }

    long get(int id) throws Run.TaskError {
        long deadline = System.nanoTime() + a.timeoutMs * 1_000_000;
        byte[] request = ("GET /query?id=" + id + "&delay_ms=" + a.ms + " HTTP/1.1\r\nHost: " + a.addrText
                + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        ByteArrayOutputStream response = new ByteArrayOutputStream();
        try (Socket s = new Socket()) {
            s.connect(to, (int) Math.min(a.timeoutMs, Integer.MAX_VALUE));
            s.getOutputStream().write(request);
            InputStream in = s.getInputStream();
            byte[] buf = new byte[16 * 1024];
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    throw new SocketTimeoutException();
                }
                s.setSoTimeout((int) Math.min(left, Integer.MAX_VALUE));
                int n = in.read(buf);
                if (n < 0) {
                    break;
                }
                response.write(buf, 0, n);
                if (response.size() > MAX_HEAD + 2 * MAX_BODY) {
                    throw new Run.TaskError("malformed response: over the 16 KiB head and 64 KiB body bounds");
                }
            }
        } catch (ConnectException e) {
            throw new Run.TaskError("connection refused to " + a.addrText + " (is the service running? `make service`)");
        } catch (SocketTimeoutException e) {
            throw new Run.TaskError("the request timed out after " + a.timeoutMs + " ms (--timeout-ms)");
        } catch (UnknownHostException e) {
            throw new Run.TaskError("no address for " + a.addrText);
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            if (m.contains("Too many open files")) {
                throw new Run.TaskError(m + " — limit to raise: RLIMIT_NOFILE (`ulimit -n`)");
            }
            if (m.contains("Cannot assign requested address")) {
                throw new Run.TaskError(m + " — limit to raise: the ephemeral ports: net.ipv4.ip_local_port_range"
                        + " (or fewer connections at once)");
            }
            throw new Run.TaskError(a.addrText + ": " + m);
        }
        return value(response.toByteArray(), 0);
    }

    /** The value in a whole response read to its close, from `at`: the body's `value`. */
    private static long value(byte[] data, int at) throws Run.TaskError {
        int end = find(data, at, "\r\n\r\n");
        if (end < 0) {
            throw new Run.TaskError(data.length - at > MAX_HEAD ? "malformed response: a head over 16 KiB" : TRUNCATED);
        }
        if (end - at > MAX_HEAD) {
            throw new Run.TaskError("malformed response: a head over 16 KiB");
        }
        String[] lines = new String(data, at, end - at, StandardCharsets.ISO_8859_1).split("\r\n");
        String[] status = lines[0].split(" ");
        if (status.length < 2 || !status[0].startsWith("HTTP/1.")) {
            throw new Run.TaskError("malformed response");
        }
        if (status[1].startsWith("1") && !status[1].equals("101")) {
            return value(data, end + 4); // an interim response: the real one follows
        }
        if (!status[1].equals("200")) {
            throw new Run.TaskError("the service answered HTTP " + status[1]);
        }
        String chunked = null;
        Long length = null;
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0) {
                throw new Run.TaskError("malformed response: a head line that is not a field");
            }
            String name = lines[i].substring(0, colon).strip().toLowerCase();
            String v = lines[i].substring(colon + 1).strip().toLowerCase();
            if (name.equals("transfer-encoding")) {
                chunked = chunked == null ? v : chunked + ", " + v;
            } else if (name.equals("content-length")) {
                long n;
                try {
                    n = Long.parseLong(v);
                } catch (NumberFormatException e) {
                    throw new Run.TaskError("malformed response: bad Content-Length");
                }
                if (n < 0 || (length != null && length != n)) {
                    throw new Run.TaskError("malformed response: bad Content-Length");
                }
                length = n;
            }
        }
        int from = end + 4;
        byte[] body;
        if (chunked != null) {
            if (!chunked.equals("chunked")) {
                throw new Run.TaskError("malformed response: transfer coding was not asked for");
            }
            body = dechunk(data, from);
        } else if (length != null) {
            if (length > MAX_BODY) {
                throw new Run.TaskError("malformed response: body over the 65536-byte bound");
            }
            if (data.length - from < length) {
                throw new Run.TaskError(TRUNCATED);
            }
            body = java.util.Arrays.copyOfRange(data, from, from + (int) (long) length);
        } else {
            body = java.util.Arrays.copyOfRange(data, from, data.length);
        }
        if (body.length > MAX_BODY) {
            throw new Run.TaskError("malformed response: body over the 65536-byte bound");
        }
        Matcher m = VALUE.matcher(new String(body, StandardCharsets.UTF_8));
        if (!m.find()) {
            throw new Run.TaskError("malformed response: body is not the expected JSON");
        }
        try {
            return Long.parseUnsignedLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new Run.TaskError("malformed response: body is not the expected JSON");
        }
    }

    /** A chunked body: hex sizes, extensions ignored, trailer fields skipped. */
    private static byte[] dechunk(byte[] data, int at) throws Run.TaskError {
        String lastChunk = "truncated response: the connection closed before the last chunk";
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            int end = find(data, at, "\r\n");
            if (end < 0) {
                throw new Run.TaskError(lastChunk);
            }
            String line = new String(data, at, end - at, StandardCharsets.ISO_8859_1).split(";")[0].strip();
            long size;
            try {
                size = line.isEmpty() || Character.digit(line.charAt(0), 16) < 0 ? -1 : Long.parseLong(line, 16);
            } catch (NumberFormatException e) {
                size = -1;
            }
            if (size < 0) {
                throw new Run.TaskError("malformed response: bad chunk size");
            }
            if (body.size() + size > MAX_BODY) {
                throw new Run.TaskError("malformed response: body over the 65536-byte bound");
            }
            at = end + 2;
            if (size == 0) {
                // Trailer fields, then the empty line that ends the message.
                while (true) {
                    int next = find(data, at, "\r\n");
                    if (next < 0) {
                        throw new Run.TaskError(lastChunk);
                    }
                    if (next == at) {
                        return body.toByteArray();
                    }
                    if (new String(data, at, next - at, StandardCharsets.ISO_8859_1).indexOf(':') <= 0) {
                        throw new Run.TaskError("malformed response: a trailer line that is not a field");
                    }
                    at = next + 2;
                }
            }
            if (data.length < at + size + 2) {
                throw new Run.TaskError(lastChunk);
            }
            if (data[at + (int) size] != '\r' || data[at + (int) size + 1] != '\n') {
                throw new Run.TaskError("malformed response: a chunk's data is not followed by CRLF");
            }
            body.write(data, at, (int) size);
            at += (int) size + 2;
        }
    }

    static int find(byte[] data, int from, String what) {
        return find(data, from, data.length, what);
    }

    /** Where `what` first stands in data[from..to), or -1. */
    static int find(byte[] data, int from, int to, String what) {
        byte[] w = what.getBytes(StandardCharsets.US_ASCII);
        outer:
        for (int i = Math.max(from, 0); i + w.length <= to; i++) {
            for (int k = 0; k < w.length; k++) {
                if (data[i + k] != w[k]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
