// A run of N tasks: W workers (a thread per task unless --workers W) take task ids in order
// and run each with plain blocking code; the main thread collects the results as they come.
// The one difference between java-virtual and java-threads is the executor the workers run
// on (Executors.java).
package conclab;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicInteger;

final class Run {
    /** One finished task: its value or error, when it started and finished, and where. */
    record Result(int id, long value, String error, long startedNs, long finishedNs, long tid) {}

    /** The run's tasks, reported; the exit status. */
    static int tasks(Args a) {
        Disk disk = a.workload.equals("disk") ? Disk.open(a) : null;
        int workers = a.workers > 0 ? a.workers : a.tasks;
        Limits.admit(workers, a);
        if (a.workload.equals("cpu")) {
            // SHA-256's provider is found and its classes loaded once, before the clock starts:
            // class loading reads files, which would unmount a virtual thread mid-task.
            Cpu.chain(0, 1);
        }
        Proc.Sampler threads = new Proc.Sampler();
        long start = System.nanoTime();
        Result[] results;
        ExecutorService pool = Executors.forTasks(workers);
        try {
            if (a.workload.equals("brigade")) {
                results = Brigade.run(a, pool, start);
            } else {
                results = pooled(a, pool, workers, disk, start, threads);
            }
        } catch (OutOfMemoryError e) {
            // The JVM's way of saying pthread_create failed: EAGAIN, or no room for a stack.
            System.err.println("Error: " + e.getMessage() + " — limit to raise: " + Limits.threadLimits());
            return 1;
        }
        long wall = System.nanoTime() - start;
        // Read before the pool is shut down: the JVM cannot call getrusage, so the context
        // switches are summed over the threads alive (Proc.java).
        int status = Report.run(a, results, start, wall, workers, threads.peak());
        pool.shutdownNow();
        return status;
    }

    /** W workers, each taking the next task id until none is left. */
    private static Result[] pooled(Args a, ExecutorService pool, int workers, Disk disk, long start,
            Proc.Sampler threads) {
        AtomicInteger next = new AtomicInteger();
        BlockingQueue<Result> done = new ArrayBlockingQueue<>(a.tasks);
        Http http = a.workload.equals("http") ? new Http(a) : null;
        for (int w = 0; w < workers; w++) {
            pool.execute(() -> {
                for (int id = next.getAndIncrement(); id < a.tasks; id = next.getAndIncrement()) {
                    done.add(task(a, id, http, disk));
                }
            });
            threads.sample();
        }
        Result[] results = new Result[a.tasks];
        for (int i = 0; i < a.tasks; i++) {
            Result r = take(done);
            results[r.id()] = r;
            threads.sample();
        }
        return results;
    }

    /** Task `id`, run on the calling thread, blocking it: a virtual thread unmounts instead. */
    static Result task(Args a, int id, Http http, Disk disk) {
        long started = System.nanoTime();
        long value = 0;
        String error = null;
        try {
            switch (a.workload) {
                case "sleep" -> {
                    Thread.sleep(a.ms);
                    value = id + 100L;
                }
                case "http" -> value = http.get(id);
                case "cpu" -> value = Cpu.chain(id, a.work);
                case "disk" -> value = disk.task(id);
                default -> throw new IllegalStateException("no such workload: " + a.workload);
            }
        } catch (TaskError e) {
            error = e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            error = "interrupted";
        }
        return finished(a, id, value, error, started);
    }

    static Result finished(Args a, int id, long value, String error, long started) {
        long tid = a.verbose || a.timeline != null ? Proc.tid() : 0;
        return new Result(id, value, error, started, System.nanoTime(), tid);
    }

    static <T> T take(BlockingQueue<T> queue) {
        try {
            return queue.take();
        } catch (InterruptedException e) {
            throw new IllegalStateException("the main thread was interrupted", e);
        }
    }

    /** A task's failure, with the contract's reason. */
    static final class TaskError extends Exception {
        private static final long serialVersionUID = 1;

        TaskError(String reason) {
            super(reason, null, false, false);
        }
    }
}
