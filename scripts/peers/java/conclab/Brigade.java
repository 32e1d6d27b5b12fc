// The brigade (CONTRACT.md, "Task i"): a thread per task and a one-token box per pair, an
// ArrayBlockingQueue of one: a hand-off is a lock and a condition. Between virtual threads
// it parks one and readies the next on the carrier, in user space (a monitor or lock no
// longer pins since JDK 24, JEP 491); between platform threads it is a futex wake and a
// switch by the kernel.
package conclab;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;

final class Brigade {
    /** The ring, run on `pool`: every task's result, in task order. */
    static Run.Result[] run(Args a, ExecutorService pool, long start) {
        int n = a.tasks;
        long handoffs = (long) n * a.laps;
        List<BlockingQueue<Long>> boxes = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            boxes.add(new ArrayBlockingQueue<>(1)); // room for one token: a ring of one hands it to itself
        }
        BlockingQueue<Run.Result> done = new ArrayBlockingQueue<>(n);
        for (int i = 0; i < n; i++) {
            int id = i;
            pool.execute(() -> {
                long started = System.nanoTime();
                long value = 0;
                try {
                    for (int lap = 0; lap < a.laps; lap++) {
                        long c = boxes.get(id).take();
                        value += c;
                        if (c + 1 < handoffs) {
                            boxes.get((id + 1) % n).put(c + 1);
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                done.add(Run.finished(a, id, value, null, started));
            });
        }
        boxes.get(0).add(0L);
        Run.Result[] results = new Run.Result[n];
        for (int i = 0; i < n; i++) {
            Run.Result r = Run.take(done);
            results[r.id()] = r;
        }
        return results;
    }
}
