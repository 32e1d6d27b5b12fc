// What a virtual thread cannot do (JEP 444, JEP 491), measured: T virtual threads each
// block for B ms in one way, and the run's wall time and peak OS threads say whether the
// blocking unmounted them, pinned their carriers, or captured carriers the scheduler then
// made up for.
//
// The carriers are counted as the OS threads named for the scheduler's ForkJoinPool, so that
// the platform threads that write the FIFOs are not taken for them.
//
// - sleep: Thread.sleep, which unmounts: about B ms for all of them.
// - sleep in synchronized: the same sleep holding a monitor (one per thread, never
//   contended). JDK 21 pins the carrier for it: T / carriers rounds of B. JDK 24 and later
//   (JEP 491) unmount: about B.
// - read on a FIFO: a FileInputStream's open(2) and read(2), file operations in native code,
//   which cannot unmount (a socket's or a Pipe channel's would: they have the JDK's poller):
//   the carrier is captured, and the scheduler starts another to keep the parallelism
//   (compensation, up to jdk.virtualThreadScheduler.maxPoolSize): about B, at the price of
//   an OS thread each.
// - wait in synchronized: Object.wait(B), pinned on JDK 21, unmounted since JDK 24.
//
// Run: .venv/bin/java -cp .venv/java-peer conclab.Pinning [THREADS] [MS]; one JSON line a case.
package conclab;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.reflect.Method;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicInteger;

public final class Pinning {
    /** One way to block for `ms`, run on a virtual thread. */
    private interface Block {
        void run(long ms) throws Exception;
    }

    public static void main(String[] argv) throws Exception {
        int threads = argv.length > 0 ? Integer.parseInt(argv[0]) : 100;
        long ms = argv.length > 1 ? Long.parseLong(argv[1]) : 100;
        Method virtual = java.util.concurrent.Executors.class.getMethod("newVirtualThreadPerTaskExecutor");
        Map<String, Block> cases = new LinkedHashMap<>();
        cases.put("sleep", Thread::sleep);
        cases.put("sleep in synchronized", t -> {
            Object monitor = new Object();
            synchronized (monitor) {
                Thread.sleep(t);
            }
        });
        cases.put("wait in synchronized", t -> {
            Object monitor = new Object();
            synchronized (monitor) {
                long until = System.nanoTime() + t * 1_000_000;
                for (long left = t; left > 0; left = (until - System.nanoTime()) / 1_000_000) {
                    monitor.wait(left);
                }
            }
        });
        Path fifos = fifos(threads);
        AtomicInteger nextFifo = new AtomicInteger();
        cases.put("open of a FIFO", t -> openAFifo(fifos.resolve(String.valueOf(nextFifo.getAndIncrement())), t));
        cases.put("read on a FIFO", t -> readAFifo(fifos.resolve(String.valueOf(nextFifo.getAndIncrement() % threads)), t));
        for (Map.Entry<String, Block> c : cases.entrySet()) {
            Proc.Sampler peak = new Proc.Sampler();
            long[] carriers = {0};
            CountDownLatch done = new CountDownLatch(threads);
            List<Throwable> failed = new ArrayList<>();
            long start = System.nanoTime();
            ExecutorService ex = (ExecutorService) virtual.invoke(null);
            try {
                for (int i = 0; i < threads; i++) {
                    ex.execute(() -> {
                        try {
                            c.getValue().run(ms);
                        } catch (Exception e) {
                            synchronized (failed) {
                                failed.add(e);
                            }
                        }
                        done.countDown();
                    });
                }
                while (done.getCount() > 0) {
                    Thread.sleep(10);
                    peak.sample();
                    carriers[0] = Math.max(carriers[0], carriers());
                }
            } finally {
                ex.shutdown();
            }
            double wall = (System.nanoTime() - start) / 1e9;
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("case", c.getKey());
            r.put("java", Runtime.version().toString());
            r.put("threads", threads);
            r.put("ms", ms);
            r.put("carriers", Runtime.getRuntime().availableProcessors());
            r.put("wall_s", wall);
            r.put("peak_threads", peak.peak());
            r.put("peak_carriers", Math.max(carriers[0], carriers()));
            r.put("failed", failed.size());
            System.out.println(Report.Json.of(r));
        }
    }

    /**
     * The scheduler's carrier threads alive now: the OS threads whose name (comm, 15
     * characters) is a ForkJoinPool worker's. The writers of the FIFO cases are not.
     */
    private static long carriers() {
        long n = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks) {
                try {
                    if (Proc.read(task.resolve("comm").toString()).startsWith("ForkJoinPool")) {
                        n++;
                    }
                } catch (IOException e) {
                    // a thread that exited while it was read
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return n;
    }

    /** `count` FIFOs in a fresh temporary folder, made by mkfifo(1): Java cannot make one. */
    private static Path fifos(int count) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("conclab-pinning");
        dir.toFile().deleteOnExit();
        List<String> command = new ArrayList<>(List.of("mkfifo"));
        for (int i = 0; i < count; i++) {
            Path fifo = dir.resolve(String.valueOf(i));
            command.add(fifo.toString());
            fifo.toFile().deleteOnExit();
        }
        Process made = new ProcessBuilder(command).inheritIO().start();
        if (made.waitFor() != 0) {
            throw new IOException("mkfifo failed in " + dir);
        }
        return dir;
    }

    /** Open `fifo` to read (open(2) waits for a writer), whose writer opens it after `ms`. */
    private static void openAFifo(Path fifo, long ms) throws IOException {
        writeAfter(fifo, ms);
        try (FileInputStream in = new FileInputStream(fifo.toFile())) {
            if (in.read() < 0) {
                throw new IOException(fifo + " closed unwritten");
            }
        }
    }

    /** Read `fifo`, opened at once (read and write, which does not wait), written after `ms`. */
    private static void readAFifo(Path fifo, long ms) throws IOException {
        try (RandomAccessFile in = new RandomAccessFile(fifo.toFile(), "rw")) {
            writeAfter(fifo, ms);
            if (in.read() < 0) {
                throw new IOException(fifo + " closed unwritten");
            }
        }
    }

    /** A platform thread that writes a byte to `fifo` after `ms`. */
    private static void writeAfter(Path fifo, long ms) {
        Thread writer = new Thread(() -> {
            try {
                Thread.sleep(ms);
                try (FileOutputStream out = new FileOutputStream(fifo.toFile())) {
                    out.write(1);
                }
            } catch (IOException | InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        writer.setDaemon(true);
        writer.start();
    }
}
