// Whether a pool of platform threads fits under the machine's limits, asked before the first
// starts: past one, exit 1 naming it and what to raise it to, as the Rust models do
// (crates/workload/src/limits.rs). Virtual threads need no OS thread each: only java-threads
// is checked.
package conclab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

final class Limits {
    /**
     * The mappings a JVM platform thread adds: its stack, and the guard pages glibc and the
     * JVM each put below it (measured: 1,000 threads add about 3,000 lines to /proc/self/maps).
     */
    private static final long MAPPINGS_PER_THREAD = 3;

    private record Limit(long room, String name, long inUse, long perThread) {}

    static void admit(int workers, Args a) {
        if (Args.VIRTUAL) {
            return;
        }
        List<Limit> limits = new ArrayList<>();
        long running = running();
        Long maps = number("/proc/sys/vm/max_map_count");
        if (maps != null) {
            long inUse = lines("/proc/self/maps") + 1024; // and a margin for malloc's own
            limits.add(new Limit((maps - inUse) / MAPPINGS_PER_THREAD, "vm.max_map_count (" + maps
                    + "; " + (inUse - 1024) + " mappings in use, " + MAPPINGS_PER_THREAD + " per thread)",
                    inUse, MAPPINGS_PER_THREAD));
        }
        for (String[] p : new String[][] {{"/proc/sys/kernel/threads-max", "kernel.threads-max"},
                {"/proc/sys/kernel/pid_max", "kernel.pid_max"}}) {
            Long most = number(p[0]);
            if (most != null && running > 0) {
                limits.add(new Limit(most - running, p[1] + " (" + most + "; " + running
                        + " threads in use system-wide)", running, 1));
            }
        }
        Long nproc = softLimit("Max processes");
        // RLIMIT_NPROC does not hold root (CAP_SYS_RESOURCE), whatever it says.
        if (nproc != null && !"0".equals(uid(Path.of("/proc/self/status"), 1))) {
            long mine = threadsOfThisUser();
            limits.add(new Limit(nproc - mine, "RLIMIT_NPROC (`ulimit -u` = " + nproc + "; " + mine
                    + " of this user's threads in use)", mine, 1));
        }
        Limit tightest = limits.stream().min((x, y) -> Long.compare(x.room, y.room)).orElse(null);
        if (tightest != null && workers > tightest.room) {
            System.err.println("Error: " + workers + " worker threads (--workers) cannot start: "
                    + Math.max(tightest.room, 0) + " more fit under the limit — limit to raise: "
                    + tightest.name + ", to at least " + (tightest.inUse + workers * tightest.perThread));
            Report.exit(1);
        }
    }

    /** The limits a thread that failed to start may have met, named for the error line. */
    static String threadLimits() {
        return "RLIMIT_NPROC (`ulimit -u`), vm.max_map_count, kernel.threads-max or kernel.pid_max"
                + " (or fewer --workers)";
    }

    /** Threads running system-wide: the denominator of /proc/loadavg's fourth field. */
    private static long running() {
        try {
            String[] f = Proc.read("/proc/loadavg").split(" ");
            return Long.parseLong(f[3].split("/")[1]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static Long number(String path) {
        try {
            return Long.parseLong(Proc.read(path).strip());
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static long lines(String path) {
        try {
            return Files.readAllLines(Path.of(path)).size();
        } catch (IOException e) {
            return 0;
        }
    }

    /** A soft limit of /proc/self/limits, or null where it is unlimited or unread. */
    private static Long softLimit(String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith(name)) {
                    String soft = line.substring(26).strip().split("\\s+")[0];
                    return soft.equals("unlimited") ? null : Long.parseLong(soft);
                }
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return null;
    }

    /** Threads alive of processes whose real user is this one's: what RLIMIT_NPROC counts. */
    private static long threadsOfThisUser() {
        String uid = uid(Path.of("/proc/self/status"), 0);
        long total = 0;
        try (var dirs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path dir : dirs) {
                Path status = dir.resolve("status");
                if (uid != null && uid.equals(uid(status, 0))) {
                    total += threads(status);
                }
            }
        } catch (IOException e) {
            return total;
        }
        return total;
    }

    /** A process's user id from its status: `which` 0, the real one; 1, the effective. */
    private static String uid(Path status, int which) {
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("Uid:")) {
                    return line.substring(4).strip().split("\\s+")[which];
                }
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return null;
    }

    private static long threads(Path status) {
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("Threads:")) {
                    return Long.parseLong(line.substring(8).strip());
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }
}
