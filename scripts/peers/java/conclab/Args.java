// The contract's command line (CONTRACT.md, "The command line"): flags, their bounds, which
// mode each applies to, and what this program's roster.toml entry says it takes. Bad input
// is `Error: ` and one line, then the usage, exit 2, before anything is written.
package conclab;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

final class Args {
    /** The longest wait --ms and --timeout-ms take: a day. */
    static final long MOST_MS = 86_400_000;
    /** The largest --workers: PID_MAX_LIMIT, the most threads Linux can run. */
    static final long MOST_WORKERS = 4_194_304;
    static final List<String> WORKLOADS =
            List.of("sleep", "http", "cpu", "disk", "brigade", "db", "crawl");

    /** This program's name: java-virtual or java-threads, as its roster entry's run line says. */
    static final String MODEL = System.getProperty("conclab.model", "java-virtual");
    /** Whether its tasks run on virtual threads, or on platform threads. */
    static final boolean VIRTUAL = MODEL.equals("java-virtual");

    String workload = "sleep";
    int tasks = 10;
    long ms = 1000;
    long work = 100_000;
    int workers; // 0: not given
    long timeoutMs = 30_000;
    InetSocketAddress addr;
    String addrText = "127.0.0.1:7878";
    String serve;
    String timeline;
    boolean json, verbose;
    String file;
    long fileSize; // 0: not given
    long bytes = 4096;
    boolean buffered, write;
    int laps = 100;

    long fileSizeOr() {
        return fileSize != 0 ? fileSize : 1L << 30;
    }

    static String usage() {
        return "Usage: " + MODEL + " [--workload sleep|http|cpu|disk|brigade] [--tasks N] [--ms MS]"
                + " [--work K] [--addr HOST:PORT] [--workers W] [--timeout-ms T] [--file PATH]"
                + " [--file-size SIZE] [--bytes B] [--buffered] [--write] [--laps L]"
                + " [--serve HOST:PORT] [--timeline FILE] [--json] [--verbose]";
    }

    /** The arguments, for reject to mask. */
    private static String[] given = new String[0];

    static void reject(String reason) {
        // An argument with an '@' that the reason echoes may hold a password: it is shown masked.
        for (String arg : given) {
            if (arg.contains("@")) {
                reason = reason.replace(arg, mask(arg));
            }
        }
        System.err.println("Error: " + reason + "\n\n" + usage());
        Report.exit(2);
    }

    /**
     * Text masked as CONTRACT.md says: from its first ':' after the scheme's "//" (or after
     * its start) to its last '@', "***"; with no '@', everything after that ':'.
     */
    static String mask(String text) {
        int at = text.lastIndexOf('@');
        String head = at >= 0 ? text.substring(0, at) : text;
        int scheme = head.indexOf("://");
        int start = scheme >= 0 ? scheme + 3 : 0;
        int colon = head.indexOf(':', start);
        if (colon < 0) {
            return text;
        }
        return text.substring(0, colon) + ":***" + (at >= 0 ? text.substring(at) : "");
    }

    /** The flags that take no value. */
    private static final List<String> SWITCHES =
            List.of("json", "verbose", "buffered", "write", "offload", "version");

    static Args parse(String[] argv) {
        given = argv.clone();
        Map<String, String> given = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--") || a.length() == 2) {
                reject("unexpected argument \"" + a + "\"");
            }
            String name = a.substring(2);
            String value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (!SWITCHES.contains(name) && !Applies.known(name)) {
                reject("unknown flag --" + name);
            }
            if (SWITCHES.contains(name)) {
                if (value != null) {
                    reject("--" + name + " takes no value");
                }
                value = "";
            } else if (value == null) {
                if (i + 1 >= argv.length) {
                    reject("--" + name + " needs a value");
                }
                value = argv[++i];
            }
            given.put(name, value);
        }
        if (given.containsKey("version")) {
            System.out.println(MODEL + " (Java " + Runtime.version() + ")");
            Report.exit(0);
        }
        Args a = new Args();
        a.workload = given.getOrDefault("workload", "sleep");
        a.serve = given.get("serve");
        if (!WORKLOADS.contains(a.workload)) {
            reject("--workload: \"" + a.workload + "\" is not one of " + String.join(", ", WORKLOADS));
        }
        Entry entry = Entry.of(MODEL);
        if (a.serve != null && !entry.serves) {
            reject("--serve: " + MODEL + " does not serve (its roster.toml entry has no \"serve\" flag)");
        }
        if (a.serve == null && !entry.runs.contains(a.workload)) {
            reject("--workload " + a.workload + ": " + MODEL + " runs "
                    + String.join(", ", entry.runs) + " (its roster.toml entry)");
        }
        for (String name : given.keySet()) {
            String why = Applies.why(name, a.workload, a.serve != null);
            if (why != null) {
                reject(why);
            }
        }
        if (given.containsKey("offload")) {
            reject("--offload: threads have no event loop to offload from; they already run on every core");
        }
        a.json = given.containsKey("json");
        a.verbose = given.containsKey("verbose");
        a.buffered = given.containsKey("buffered");
        a.write = given.containsKey("write");
        a.tasks = (int) number(given, "tasks", "10", 1, Integer.MAX_VALUE);
        a.ms = number(given, "ms", "1000", 0, MOST_MS);
        a.work = number(given, "work", "100000", 0, Long.MAX_VALUE);
        a.timeoutMs = number(given, "timeout-ms", "30000", 1, MOST_MS);
        a.laps = (int) number(given, "laps", "100", 1, Integer.MAX_VALUE);
        if (given.containsKey("file-size")) {
            a.fileSize = Disk.parseSize("file-size", given.get("file-size"));
        }
        a.bytes = Disk.parseSize("bytes", given.getOrDefault("bytes", "4096"));
        if (a.bytes > 1L << 30) {
            reject("--bytes: " + a.bytes + " is over 1 GiB");
        }
        a.file = given.get("file");
        if (given.containsKey("workers")) {
            long w = number(given, "workers", null, 1, Long.MAX_VALUE);
            if (w > MOST_WORKERS) {
                reject("--workers: " + w + " is above " + MOST_WORKERS
                        + " (PID_MAX_LIMIT, the most threads or processes Linux can run)");
            }
            a.workers = (int) (a.serve == null ? Math.min(w, a.tasks) : w);
        }
        if (a.workload.equals("brigade") && a.workers > 0) {
            reject("--workers does not apply to the brigade: every task of the ring runs at once");
        }
        a.addrText = given.getOrDefault("addr", a.addrText);
        a.addr = hostPort("addr", a.addrText);
        if (a.serve != null) {
            hostPort("serve", a.serve);
        }
        // Nothing is written until every argument is accepted.
        a.timeline = given.get("timeline");
        if (a.timeline != null) {
            try {
                Files.write(Path.of(a.timeline), new byte[0]);
            } catch (IOException | RuntimeException e) {
                reject("--timeline: cannot write " + a.timeline);
            }
        }
        return a;
    }

    private static long number(Map<String, String> given, String name, String fallback, long min, long most) {
        String text = given.getOrDefault(name, fallback);
        long v;
        try {
            v = Long.parseLong(text);
        } catch (NumberFormatException e) {
            boolean digits = text.matches("-?[0-9]+");
            if (digits) {
                reject("--" + name + ": " + text + (text.startsWith("-") ? " is below " + min : " is above " + most));
            }
            reject("--" + name + ": \"" + text + "\" is not a whole number");
            return 0;
        }
        if (v < min) {
            reject("--" + name + ": " + v + " is below " + min);
        }
        if (v > most) {
            reject("--" + name + ": " + v + " is above " + most + (most == MOST_MS ? " (a day)" : ""));
        }
        return v;
    }

    /** HOST:PORT, resolved later by whoever connects or binds. */
    static InetSocketAddress hostPort(String name, String text) {
        int colon = text.lastIndexOf(':');
        int port = -1;
        if (colon > 0) {
            try {
                port = Integer.parseInt(text.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
        }
        if (port < 0 || port > 65535) {
            reject("--" + name + ": \"" + text + "\" is not HOST:PORT");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return InetSocketAddress.createUnresolved(host, port);
    }

    /** Which mode each flag belongs to: the Rust models' rules (CONTRACT.md). */
    static final class Applies {
        private record Rule(List<String> workloads, boolean serve, String belongs) {}

        private static final List<String> ANY = List.of();
        private static final Map<String, Rule> RULES = new LinkedHashMap<>();

        static {
            Rule disk = new Rule(List.of("disk"), false, "to the disk workload");
            RULES.put("tasks", new Rule(ANY, false, "to running tasks"));
            RULES.put("workload", new Rule(ANY, false, "to running tasks"));
            RULES.put("timeline", new Rule(ANY, false, "to running tasks: it records each task's span"));
            RULES.put("verbose", new Rule(ANY, false, "to running tasks: it names each finished task"));
            RULES.put("ms", new Rule(List.of("sleep", "http", "db"), false, "to the sleep, http and db workloads"));
            RULES.put("work", new Rule(List.of("cpu"), false, "to the cpu workload (a server's /cpu takes work=K)"));
            RULES.put("addr", new Rule(List.of("http"), false, "to the http workload"));
            RULES.put("timeout-ms", new Rule(List.of("http", "db", "crawl"), true,
                    "to the http, db and crawl workloads and --serve"));
            RULES.put("file", disk);
            RULES.put("file-size", disk);
            RULES.put("bytes", disk);
            RULES.put("buffered", disk);
            RULES.put("write", new Rule(List.of("disk", "db"), false, "to the disk and db workloads"));
            RULES.put("laps", new Rule(List.of("brigade"), false, "to the brigade workload"));
            RULES.put("workers", new Rule(ANY, true, ""));
            RULES.put("serve", new Rule(ANY, true, ""));
            RULES.put("json", new Rule(ANY, true, ""));
            for (String crawl : List.of("seed", "allow", "per-host")) {
                RULES.put(crawl, new Rule(List.of("crawl"), false, "to the crawl workload"));
            }
            for (String db : List.of("db-url", "rows")) {
                RULES.put(db, new Rule(List.of("db"), false, "to the db workload"));
            }
        }

        static boolean known(String name) {
            return RULES.containsKey(name);
        }

        /** Why `name` does not apply to the mode chosen, or null when it does. */
        static String why(String name, String workload, boolean serving) {
            Rule r = RULES.get(name);
            if (r == null || (serving && r.serve) || (!serving && (r.workloads.isEmpty() || r.workloads.contains(workload)))) {
                return null;
            }
            String mode = serving ? "--serve" : "the " + workload + " workload";
            return "--" + name + " does not apply to " + mode + ": it belongs " + r.belongs;
        }
    }

    /** This program's roster.toml entry: the workloads it runs, and whether it serves. */
    record Entry(List<String> runs, boolean serves) {
        static Entry of(String id) {
            String env = System.getenv("CONCLAB_ROSTER");
            Path roster = Path.of(env != null && !env.isEmpty() ? env : System.getProperty("conclab.roster", "roster.toml"));
            List<String> lines;
            try {
                lines = Files.readAllLines(roster);
            } catch (IOException e) {
                System.err.println("Error: cannot read " + roster + ": " + e.getMessage());
                Report.exit(1);
                return null;
            }
            // Enough TOML for the roster's own layout: `[[program]]` tables of `key = value` lines.
            String current = null;
            List<String> runs = WORKLOADS;
            boolean serves = false;
            for (String raw : lines) {
                String line = raw.strip();
                if (line.equals("[[program]]") || line.startsWith("[runtime")) {
                    if (id.equals(current)) {
                        return new Entry(runs, serves);
                    }
                    current = null;
                    runs = WORKLOADS;
                    serves = false;
                } else if (line.startsWith("id = ")) {
                    current = unquote(line.substring(5));
                } else if (line.startsWith("workloads = ")) {
                    runs = list(line.substring(12));
                } else if (line.startsWith("flags = ")) {
                    serves = list(line.substring(8)).contains("serve");
                }
            }
            if (id.equals(current)) {
                return new Entry(runs, serves);
            }
            System.err.println("Error: " + id + " has no [[program]] entry in " + roster
                    + ": add one (README, \"Adding a model or a peer\")");
            Report.exit(1);
            return null;
        }

        private static String unquote(String s) {
            return s.strip().replaceAll("^\"|\"$", "");
        }

        private static List<String> list(String s) {
            List<String> out = new ArrayList<>();
            for (String item : s.strip().replaceAll("^\\[|\\]$", "").split(",")) {
                if (!item.isBlank()) {
                    out.add(unquote(item));
                }
            }
            return out;
        }
    }
}
