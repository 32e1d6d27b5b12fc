// What the JVM cannot ask the kernel itself (it has no getrusage, gettid or num_threads),
// read from /proc instead.
package conclab;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

final class Proc {
    /** USER_HZ: the unit of /proc's CPU times, 100 on every Linux architecture there is. */
    private static final double TICKS_PER_S = 100.0;

    /**
     * A /proc file's text. Read line by line: Files.readString and readAllBytes trust the size
     * /proc reports, and of /proc/sys/vm/max_map_count they return "6".
     */
    static String read(String path) throws IOException {
        return String.join("\n", Files.readAllLines(Path.of(path)));
    }

    static long pid() {
        return ProcessHandle.current().pid();
    }

    /**
     * The OS thread running the caller: a virtual thread's carrier. /proc/thread-self links
     * to "PID/task/TID" (one readlink system call).
     */
    static long tid() {
        try {
            String link = Files.readSymbolicLink(Path.of("/proc/thread-self")).toString();
            return Long.parseLong(link.substring(link.lastIndexOf('/') + 1));
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** The fields of /proc/self/stat after the command's name, from field 3 (state) on. */
    private static String[] stat() {
        try {
            String s = read("/proc/self/stat");
            return s.substring(s.lastIndexOf(')') + 2).split(" ");
        } catch (IOException e) {
            return new String[0];
        }
    }

    private static long field(String[] stat, int number) {
        return stat.length > number - 3 ? Long.parseLong(stat[number - 3]) : 0;
    }

    static long threads() {
        return field(stat(), 20);
    }

    /** What getrusage would say, for this process and its reaped children. */
    record Usage(double userS, double sysS, long maxRssKib, long voluntary, long involuntary) {
        /**
         * Its fields, as a report names them: a run's and a server's, which name their
         * children's RSS `children` (a sum for a run, the largest for a server; none here).
         */
        void into(java.util.Map<String, Object> report, String children) {
            report.put("user_s", userS);
            report.put("sys_s", sysS);
            report.put("max_rss_kib", maxRssKib);
            report.put(children, 0);
            report.put("voluntary_ctx_switches", voluntary);
            report.put("involuntary_ctx_switches", involuntary);
        }
    }

    /**
     * CPU times from /proc/self/stat (to 10 ms); peak RSS from VmHWM; the context switches
     * summed over the threads alive now, since an exited thread's are lost to /proc: the
     * callers read it before they shut their pools down.
     */
    static Usage usage() {
        String[] s = stat();
        double user = (field(s, 14) + field(s, 16)) / TICKS_PER_S;
        double sys = (field(s, 15) + field(s, 17)) / TICKS_PER_S;
        long[] switches = new long[2];
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks) {
                switches[0] += status(task.resolve("status"), "voluntary_ctxt_switches:");
                switches[1] += status(task.resolve("status"), "nonvoluntary_ctxt_switches:");
            }
        } catch (IOException e) {
            // The counts stay 0: a figure missing, not a failed run.
        }
        long rss = status(Path.of("/proc/self/status"), "VmHWM:");
        return new Usage(user, sys, rss, switches[0], switches[1]);
    }

    private static long status(Path file, String key) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.substring(key.length()).strip().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0; // a thread that exited while it was read
        }
        return 0;
    }

    /**
     * peak_threads as CONTRACT.md samples it: num_threads at the start, at most every 10 ms
     * as results arrive, and at the end.
     */
    static final class Sampler {
        private long peak = threads();
        private long last = System.nanoTime();

        void sample() {
            long now = System.nanoTime();
            if (now - last >= 10_000_000) {
                last = now;
                peak = Math.max(peak, threads());
            }
        }

        long peak() {
            return Math.max(peak, threads());
        }
    }
}
