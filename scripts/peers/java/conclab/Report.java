// The contract's report (CONTRACT.md, "The report"): one human line, or one JSON object with
// --json; the verbose lines and the timeline; and the exit status.
package conclab;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

final class Report {
    /** Flush what was printed and exit with `status`. */
    static void exit(int status) {
        System.out.flush();
        System.err.flush();
        System.exit(status);
    }

    static int run(Args a, Run.Result[] results, long start, long wallNs, int workers, long peakThreads) {
        int ok = 0;
        int failed = 0;
        long checksum = 0;
        String firstError = null;
        double[] finished = new double[results.length];
        double[] latency = new double[results.length];
        long pid = Proc.pid();
        for (Run.Result r : results) {
            double at = (r.finishedNs() - start) / 1e9;
            if (r.error() != null) {
                failed++;
                firstError = firstError == null ? r.error() : firstError;
                if (a.verbose) {
                    System.err.printf(Locale.ROOT, "task %d failed: %s · pid %d tid %d · at %.4f s%n", r.id(), r.error(), pid, r.tid(), at);
                }
                continue;
            }
            finished[ok] = at;
            latency[ok] = (r.finishedNs() - r.startedNs()) / 1e6;
            ok++;
            checksum += r.value();
            if (a.verbose) {
                System.err.printf(Locale.ROOT, "task %d value %s · pid %d tid %d · at %.4f s%n", r.id(),
                        Long.toUnsignedString(r.value()), pid, r.tid(), at);
            }
        }
        if (a.timeline != null) {
            try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(Path.of(a.timeline)))) {
                for (Run.Result r : results) {
                    out.printf(Locale.ROOT, "{\"id\":%d,\"start\":%.9f,\"end\":%.9f,\"pid\":%d,\"tid\":%d}%n", r.id(),
                            (r.startedNs() - start) / 1e9, (r.finishedNs() - start) / 1e9, pid, r.tid());
                }
            } catch (IOException e) {
                System.err.println("Error: cannot write the timeline to " + a.timeline + ": " + e.getMessage());
                return 1;
            }
        }
        Proc.Usage u = Proc.usage();
        double wall = wallNs / 1e9;
        boolean timed = a.workload.equals("sleep") || a.workload.equals("http");
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", Args.MODEL);
        r.put("workload", a.workload);
        r.put("tasks", a.tasks);
        r.put("workers", workers);
        r.put("concurrency", workers);
        r.put("ms", timed ? a.ms : null);
        r.put("work", a.workload.equals("cpu") ? a.work : null);
        r.put("offload", false);
        r.put("ok", ok);
        r.put("failed", failed);
        r.put("checksum", new Unsigned(checksum));
        r.put("wall_s", wall);
        Double ideal = timed ? Math.ceil((double) a.tasks / workers) * a.ms / 1000.0 : null;
        r.put("ideal_s", ideal);
        u.into(r, "children_max_rss_kib_sum");
        r.put("lateness_ms", timed ? lateness(Arrays.copyOf(finished, ok), workers, a.ms / 1000.0) : null);
        r.put("loop_lag_ms", null);
        r.put("first_error", firstError);
        r.put("peak_threads", peakThreads);
        boolean disk = a.workload.equals("disk");
        r.put("iops", disk ? ok / wall : null);
        r.put("latency_ms", disk ? percentiles(Arrays.copyOf(latency, ok)) : null);
        r.put("qps", null);
        if (a.workload.equals("brigade")) {
            double h = (double) a.tasks * a.laps;
            r.put("laps", a.laps);
            r.put("handoffs", (long) h);
            r.put("ns_per_handoff", wallNs / h);
            r.put("voluntary_per_handoff", u.voluntary() / h);
            r.put("involuntary_per_handoff", u.involuntary() / h);
            r.put("user_ns_per_handoff", u.userS() * 1e9 / h);
            r.put("sys_ns_per_handoff", u.sysS() * 1e9 / h);
        }
        if (a.json) {
            System.out.println(Json.of(r));
        } else {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%s · %s · %d %s · %.4f s", Args.MODEL,
                    a.workload, a.tasks, a.tasks == 1 ? "task" : "tasks", wall));
            if (ideal != null) {
                line.append(String.format(Locale.ROOT, " (ideal %.4f s)", ideal));
            }
            line.append(String.format(Locale.ROOT, " · peak RSS %.1f MiB", u.maxRssKib() / 1024.0));
            if (r.get("ns_per_handoff") instanceof Double ns) {
                line.append(String.format(Locale.ROOT, " · %.0f ns a hand-off", ns));
            }
            if (r.get("latency_ms") instanceof Map<?, ?> p) {
                line.append(String.format(Locale.ROOT, " · %.0f IOPS, p50 %.3f ms, p99 %.3f ms", ok / wall, p.get("p50"), p.get("p99")));
            }
            line.append(" · checksum ").append(Long.toUnsignedString(checksum));
            if (failed > 0) {
                line.append(" · ").append(failed).append(" failed");
            }
            System.out.println(line);
        }
        if (failed > 0) {
            System.err.println("Error: " + failed + " of " + a.tasks + " tasks failed; the first: " + firstError);
            return 1;
        }
        return 0;
    }

    /** The k-th finish against the ideal schedule, where round k / concurrency ends at (round + 1) × each. */
    private static Map<String, Double> lateness(double[] finished, int concurrency, double each) {
        Arrays.sort(finished);
        double[] late = new double[finished.length];
        for (int k = 0; k < finished.length; k++) {
            late[k] = (finished[k] - (k / concurrency + 1) * each) * 1000;
        }
        return percentiles(late);
    }

    /** Nearest-rank p50, p99 and max, as the Rust models compute them; null for none. */
    static Map<String, Double> percentiles(double[] values) {
        if (values.length == 0) {
            return null;
        }
        Arrays.sort(values);
        Map<String, Double> p = new LinkedHashMap<>();
        for (String[] q : new String[][] {{"p50", "0.5"}, {"p99", "0.99"}}) {
            int i = (int) Math.ceil(Double.parseDouble(q[1]) * values.length);
            p.put(q[0], Math.round(values[Math.max(1, Math.min(i, values.length)) - 1] * 1000) / 1000.0);
        }
        p.put("max", Math.round(values[values.length - 1] * 1000) / 1000.0);
        return p;
    }

    /** A u64 kept in a long, written unsigned. */
    record Unsigned(long bits) {}

    /** Enough JSON for the report: maps, strings, numbers, booleans and null, on one line. */
    static final class Json {
        static String of(Object v) {
            if (v == null) {
                return "null";
            }
            if (v instanceof Map<?, ?> m) {
                StringBuilder b = new StringBuilder("{");
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    b.append(b.length() > 1 ? "," : "").append(of(String.valueOf(e.getKey()))).append(':').append(of(e.getValue()));
                }
                return b.append('}').toString();
            }
            if (v instanceof Unsigned u) {
                return Long.toUnsignedString(u.bits());
            }
            if (v instanceof Double d) {
                return d.isNaN() || d.isInfinite() ? "null" : String.valueOf(d);
            }
            if (v instanceof Number || v instanceof Boolean) {
                return String.valueOf(v);
            }
            StringBuilder b = new StringBuilder("\"");
            for (char c : String.valueOf(v).toCharArray()) {
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    case '\r' -> b.append("\\r");
                    case '\t' -> b.append("\\t");
                    default -> b.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
                }
            }
            return b.append('"').toString();
        }
    }
}
