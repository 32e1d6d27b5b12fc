// The disk workload (CONTRACT.md, "Task i"): the data file, made from its definition when
// missing, and one block read (or written) per task with FileChannel's positional read and
// write (pread, pwrite), O_DIRECT unless --buffered (ExtendedOpenOption.DIRECT, into a
// buffer aligned to the block).
//
// A file read cannot unmount a virtual thread: the JDK has no poller for files, so the
// carrier blocks in pread, and the scheduler makes up for it by starting another carrier
// for the while (JEP 444, "pinning" and "compensation"). The report's peak_threads counts
// them; with platform threads, it is simply the pool.
package conclab;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

final class Disk {
    private static final int ALIGN = 4096;

    private final FileChannel channel;
    private final Path path;
    private final long size;
    private final int bytes;
    private final boolean direct;
    private final boolean write;
    /** Aligned buffers, reused: a task takes one or makes one. */
    private final ConcurrentLinkedQueue<ByteBuffer> buffers = new ConcurrentLinkedQueue<>();

    private Disk(FileChannel channel, Path path, long size, Args a) {
        this.channel = channel;
        this.path = path;
        this.size = size;
        this.bytes = (int) a.bytes;
        this.direct = !a.buffered;
        this.write = a.write;
    }

    static long splitmix64(long x) {
        long z = x + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The definition's words for the bytes from `offset` on, into `out` (little-endian). */
    private static void fill(long offset, ByteBuffer out) {
        for (int k = 0; k + 8 <= out.limit(); k += 8) {
            out.putLong(k, splitmix64(offset / 8 + k / 8));
        }
    }

    /** 4096, 64M, 1G (powers of 1024): a positive multiple of 4096. */
    static long parseSize(String name, String text) {
        String number = text.toUpperCase().replaceAll("IB$", "").replaceAll("B$", "");
        int shift = 0;
        if (!number.isEmpty()) {
            shift = switch (number.charAt(number.length() - 1)) {
                case 'K' -> 10;
                case 'M' -> 20;
                case 'G' -> 30;
                case 'T' -> 40;
                default -> 0;
            };
        }
        if (shift > 0) {
            number = number.substring(0, number.length() - 1);
        }
        long n;
        try {
            n = Long.parseLong(number);
        } catch (NumberFormatException e) {
            Args.reject("--" + name + ": \"" + text + "\" is not a size (say 4096, 64M or 1G)");
            return 0;
        }
        long size = n << shift;
        if (n <= 0 || size % ALIGN != 0 || size >> shift != n) {
            Args.reject("--" + name + ": " + size + " bytes is not a positive multiple of 4096");
        }
        return size;
    }

    /** The data file, opened once for every task: a positional read takes no offset lock. */
    static Disk open(Args a) {
        Path path = Path.of(a.file != null ? a.file : "data/disk-" + a.fileSizeOr() + ".bin");
        try {
            BasicFileAttributes attrs;
            try {
                attrs = Files.readAttributes(path, BasicFileAttributes.class);
            } catch (NoSuchFileException e) {
                create(path, a.fileSizeOr(), a.file == null);
                attrs = Files.readAttributes(path, BasicFileAttributes.class);
            }
            if (!attrs.isRegularFile()) {
                fail(path + " is " + kindOf(path, attrs) + ", not a data file: name a regular --file"
                        + " (or a path where one may be made)");
            }
            long size = attrs.size();
            if (a.fileSize != 0 && a.fileSize != size) {
                fail(path + " is " + size + " bytes, not the --file-size " + a.fileSize + " asked for: name another --file");
            }
            if (size < a.bytes) {
                fail(path + " is " + size + " bytes, less than one block of --bytes " + a.bytes);
            }
            List<OpenOption> options = new ArrayList<>(List.of(StandardOpenOption.READ));
            if (a.write) {
                options.add(StandardOpenOption.WRITE);
                options.add(StandardOpenOption.DSYNC);
            }
            if (!a.buffered) {
                options.add(ExtendedOpenOption.DIRECT);
            }
            FileChannel channel;
            try {
                channel = FileChannel.open(path, options.toArray(new OpenOption[0]));
            } catch (IOException e) {
                if (!a.buffered && String.valueOf(e.getMessage()).contains("Invalid argument")) {
                    String kind = filesystemOf(path);
                    fail(path + ": its " + (kind.isEmpty() ? "" : kind + " ") + "filesystem refuses O_DIRECT"
                            + " (EINVAL at open): pass --buffered to go through the page cache, or name a --file"
                            + " on a filesystem that takes it");
                }
                fail("cannot open " + path + ": " + reason(e));
                return null;
            }
            return new Disk(channel, path, size, a);
        } catch (IOException e) {
            fail("cannot read " + path + ": " + reason(e));
            return null;
        }
    }

    private static void fail(String why) {
        System.err.println("Error: " + why);
        Report.exit(1);
    }

    private static String reason(IOException e) {
        String m = e.getMessage();
        int colon = m == null ? -1 : m.lastIndexOf(": ");
        return colon >= 0 ? m.substring(colon + 2) : e.getClass().getSimpleName() + (m == null ? "" : " " + m);
    }

    /** Task `id`'s block, read (or written) on the calling thread; its value. */
    long task(int id) throws Run.TaskError {
        ByteBuffer buf = buffers.poll();
        if (buf == null) {
            buf = ByteBuffer.allocateDirect(bytes + ALIGN).alignedSlice(ALIGN).order(ByteOrder.LITTLE_ENDIAN);
        }
        try {
            long offset = Long.remainderUnsigned(splitmix64(id), size / bytes) * bytes;
            buf.clear().limit(bytes);
            try {
                if (write) {
                    fill(offset, buf);
                    for (int done = 0; done < bytes; ) {
                        done += channel.write(buf.position(done), offset + done);
                    }
                } else {
                    for (int done = 0; done < bytes; ) {
                        int n = channel.read(buf.position(done), offset + done);
                        if (n < 0) {
                            throw new Run.TaskError("at offset " + offset + " of " + path + ": the file ended early");
                        }
                        done += n;
                    }
                }
            } catch (IOException e) {
                if (direct && String.valueOf(e.getMessage()).contains("Invalid argument")) {
                    throw new Run.TaskError(path + ": the device refused an O_DIRECT transfer at offset " + offset
                            + " of it (EINVAL): its logical block size (`lsblk -t`) may be larger than --bytes;"
                            + " or pass --buffered");
                }
                throw new Run.TaskError("at offset " + offset + " of " + path + ": " + reason(e));
            }
            long sum = 0;
            for (int k = 0; k < bytes; k += 8) {
                sum += buf.getLong(k);
            }
            return sum;
        } finally {
            buffers.add(buf);
        }
    }

    /** Every word of the definition into a temporary file, renamed into place once whole. */
    private static void create(Path path, long size, boolean defaultPath) throws IOException {
        if (defaultPath) {
            Files.createDirectories(Path.of("data"));
        }
        System.err.println("creating the data file " + path + " (" + size + " bytes) from the definition");
        Path tmp = Path.of(path + ".tmp." + Proc.pid());
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer chunk = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (long at = 0; at < size; at += chunk.capacity()) {
                chunk.clear().limit((int) Math.min(chunk.capacity(), size - at));
                fill(at, chunk);
                while (chunk.hasRemaining()) {
                    out.write(chunk);
                }
            }
            out.force(true);
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** The type of the filesystem `path` is on: the longest mount point of mountinfo above it. */
    private static String filesystemOf(Path path) {
        try {
            String real = path.toRealPath().toString();
            int best = -1;
            String kind = "";
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                int dash = line.indexOf(" - ");
                String[] parts = dash < 0 ? new String[0] : line.substring(0, dash).split(" ");
                if (parts.length < 5) {
                    continue;
                }
                String point = parts[4].replace("\\040", " ");
                String prefix = point.endsWith("/") ? point : point + "/";
                if ((real.equals(point) || real.startsWith(prefix)) && point.length() >= best) {
                    best = point.length();
                    kind = line.substring(dash + 3).split(" ")[0];
                }
            }
            return kind;
        } catch (IOException e) {
            return "";
        }
    }

    /** What a path that is not a regular file is, in words, as the Rust models say it. */
    private static String kindOf(Path path, BasicFileAttributes attrs) {
        if (attrs.isDirectory()) {
            return "a directory";
        }
        try {
            String type = String.valueOf(Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS));
            int mode = Integer.parseInt(type) & 0170000;
            return switch (mode) {
                case 0010000 -> "a FIFO";
                case 0020000 -> "a character device";
                case 0060000 -> "a block device";
                case 0140000 -> "a socket";
                default -> "not a regular file";
            };
        } catch (IOException | RuntimeException e) {
            return "not a regular file";
        }
    }
}
