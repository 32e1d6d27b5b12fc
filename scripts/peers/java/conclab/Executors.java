// The one place java-virtual and java-threads differ: the executor their threads come from.
package conclab;

import java.util.concurrent.ExecutorService;

final class Executors {
    /**
     * Where `workers` workers run: a new virtual thread each (java-virtual), or a fixed pool of
     * that many platform threads (java-threads), each started as its first task arrives.
     */
    static ExecutorService forTasks(int workers) {
        return Args.VIRTUAL ? virtual() : java.util.concurrent.Executors.newFixedThreadPool(workers);
    }

    /** Where a server's connections run: a virtual thread each, or a platform thread each. */
    static ExecutorService forConnections(int workers) {
        if (Args.VIRTUAL) {
            return virtual();
        }
        return workers > 0
                ? java.util.concurrent.Executors.newFixedThreadPool(workers)
                : java.util.concurrent.Executors.newCachedThreadPool();
    }

    /**
     * Executors.newVirtualThreadPerTaskExecutor(), a JDK 21 method, reached by reflection:
     * this program is compiled by javac 17 (`--release 17`) and run on JDK 25, where the
     * method is there.
     */
    private static ExecutorService virtual() {
        try {
            return (ExecutorService) java.util.concurrent.Executors.class
                    .getMethod("newVirtualThreadPerTaskExecutor")
                    .invoke(null);
        } catch (ReflectiveOperationException e) {
            System.err.println("Error: java-virtual needs virtual threads (JDK 21 or later); this is Java "
                    + Runtime.version() + " — install the peers' JDK with `make peers`");
            Report.exit(1);
            return null;
        }
    }
}
