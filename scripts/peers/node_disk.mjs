// The disk workload for node-promises (CONTRACT.md, "Task i"): each task reads (or writes)
// one block of the data file with fs.promises' FileHandle.read at a position.
//
// libuv has no way to wait for a file to be ready — a file always is — so every fs call is
// a job for its thread pool: 4 threads by default (UV_THREADPOOL_SIZE; --workers sets it),
// however many reads the loop has in flight. Current Node leaves libuv's io_uring off.
//
// O_DIRECT wants a buffer at a 4 KiB-aligned address, and JavaScript cannot see addresses:
// a Buffer may start anywhere. A WebAssembly.Memory is the one allocation V8 makes whole
// pages for (its own mmap), so the blocks are carved out of such memories, 1 MiB at a
// time, and handed back to a free list when their read completes.
import fs from "node:fs";
import { performance } from "node:perf_hooks";

const MASK = (1n << 64n) - 1n;

function splitmix64(x) {
  let z = (x + 0x9e3779b97f4a7c15n) & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

/** Fill `words` (a BigUint64Array) with the definition's words from word `first` on. */
function fill(words, first) {
  for (let k = 0; k < words.length; k++) words[k] = splitmix64(first + BigInt(k));
}

/** The wrapping sum of the little-endian u64 words, from their 32-bit halves: a run of 2^20
 * halves' sums stays exact in a double (2^52 at most), and one BigInt sum a run is much
 * faster than one a word. */
function sumWords(halves) {
  let total = 0n;
  for (let run = 0; run < halves.length; run += 1 << 21) {
    let lo = 0;
    let hi = 0;
    for (let k = run; k < Math.min(halves.length, run + (1 << 21)); k += 2) {
      lo += halves[k];
      hi += halves[k + 1];
    }
    total += (BigInt(hi) << 32n) + BigInt(lo);
  }
  return total & MASK;
}

/** A size: 4096, 64M, 1G (powers of 1024); a positive multiple of 4096; null if not one. */
export function parseSize(text) {
  const m = /^(\d+)([KMGT]?)(I?B)?$/i.exec(text);
  if (!m) return null;
  const size = BigInt(m[1]) << BigInt({ "": 0, K: 10, M: 20, G: 30, T: 40 }[m[2].toUpperCase()]);
  return size > 0n && size % 4096n === 0n && size <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(size) : null;
}

/** Blocks of `bytes` at aligned addresses, from WebAssembly memories made as needed. */
function blocks(bytes) {
  const free = [];
  const perMemory = Math.max(1, Math.floor((1 << 20) / bytes));
  const grow = () => {
    const memory = new WebAssembly.Memory({ initial: Math.ceil((perMemory * bytes) / 65536) });
    for (let i = 0; i < perMemory; i++) free.push(Buffer.from(memory.buffer, i * bytes, bytes));
  };
  return {
    take: () => free.pop() ?? (grow(), free.pop()),
    give: (block) => free.push(block),
  };
}

function create(path, size, defaultPath) {
  if (defaultPath) fs.mkdirSync("data", { recursive: true });
  process.stderr.write(`creating the data file ${path} (${size} bytes) from the definition\n`);
  const tmp = `${path}.tmp.${process.pid}`;
  try {
    const fd = fs.openSync(tmp, "w");
    const chunk = new BigUint64Array(1 << 17);
    for (let at = 0; at < size; at += chunk.byteLength) {
      const words = chunk.subarray(0, Math.min(chunk.length, (size - at) / 8));
      fill(words, BigInt(at / 8));
      fs.writeSync(fd, new Uint8Array(words.buffer, 0, words.byteLength));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * The type of the filesystem `path` is on, as the kernel names it ("ext4", "tmpfs"): the
 * mount in /proc/self/mountinfo whose point is the longest prefix of the path.
 */
function filesystemOf(path) {
  let real, info;
  try {
    real = fs.realpathSync(path);
    info = fs.readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return null;
  }
  let best = -1, kind = null;
  for (const line of info.split("\n")) {
    const [fields, rest] = line.split(" - ");
    const point = fields.split(" ")[4]?.replaceAll("\\040", " ");
    if (rest === undefined || point === undefined) continue;
    const inside = real === point || real.startsWith(point.replace(/\/$/, "") + "/");
    if (inside && point.length >= best) [best, kind] = [point.length, rest.split(" ")[0]];
  }
  return kind;
}

/** Open the data file once (made from the definition when missing); a task runner, or throws. */
export async function openData(args) {
  const path = args.file ?? `data/disk-${args.fileSize ?? 1 << 30}.bin`;
  const named = (what, e) => {
    if (e.code === "EINVAL" && !args.buffered && what === "cannot open") {
      const kind = filesystemOf(path);
      return new Error(`${path}: its ${kind ? kind + " " : ""}filesystem refuses O_DIRECT ` +
        "(EINVAL at open): pass --buffered to go through the page cache, or name a --file on " +
        "a filesystem that takes it");
    }
    if (e.code === "EINVAL" && !args.buffered) {
      // It opened, so the filesystem takes O_DIRECT: the transfer does not suit the device.
      return new Error(`${path}: the device refused an O_DIRECT transfer ${what} it (EINVAL): ` +
        "its logical block size (`lsblk -t`) may be larger than --bytes; or pass --buffered");
    }
    return new Error(`${what} ${path}: ${e.message}`);
  };
  let st;
  try {
    if (!fs.existsSync(path)) create(path, args.fileSize ?? 1 << 30, args.file === undefined);
    st = fs.statSync(path);
  } catch (e) {
    throw named("cannot create", e);
  }
  if (!st.isFile()) {
    throw new Error(`${path} is ${kindOf(st)}, not a data file: name a regular --file (or a path where one may be made)`);
  }
  const size = st.size;
  if (args.fileSize !== undefined && args.fileSize !== size) {
    throw new Error(`${path} is ${size} bytes, not the --file-size ${args.fileSize} asked for: name another --file`);
  }
  if (size < args.bytes) throw new Error(`${path} is ${size} bytes, less than one block of --bytes ${args.bytes}`);
  const c = fs.constants;
  const flags = (args.write ? c.O_RDWR | c.O_DSYNC : c.O_RDONLY) | (args.buffered ? 0 : c.O_DIRECT);
  let handle;
  try {
    handle = await fs.promises.open(path, flags);
  } catch (e) {
    throw named("cannot open", e);
  }
  const pool = blocks(args.bytes);
  const count = BigInt(Math.floor(size / args.bytes));
  /** Task id: its read (or write), timed from submission to completion; its value. */
  return async (id) => {
    const offset = Number((splitmix64(BigInt(id)) % count) * BigInt(args.bytes));
    const block = pool.take();
    const words = new BigUint64Array(block.buffer, block.byteOffset, args.bytes / 8);
    try {
      if (args.write) fill(words, BigInt(offset / 8));
      const began = performance.now();
      const { bytesRead, bytesWritten } = args.write
        ? await handle.write(block, 0, args.bytes, offset)
        : await handle.read(block, 0, args.bytes, offset);
      const ended = performance.now();
      if ((bytesRead ?? bytesWritten) !== args.bytes) {
        throw new Error(`short ${args.write ? "write" : "read"} of ${path}: ${bytesRead ?? bytesWritten} of ${args.bytes} bytes at offset ${offset}`);
      }
      return { value: sumWords(new Uint32Array(block.buffer, block.byteOffset, args.bytes / 4)), began, ended };
    } catch (e) {
      throw e.code ? named(`at offset ${offset} of`, e) : e;
    } finally {
      pool.give(block);
    }
  };
}

/** num_threads of /proc/self/stat: the loop, libuv's pool, V8's own threads. */
export function threadsNow() {
  try {
    return Number(fs.readFileSync("/proc/self/stat", "utf8").split(")").pop().trim().split(/\s+/)[17]);
  } catch {
    return 0;
  }
}

// What a path that is not a regular file is, in words, as the Rust models say it.
function kindOf(st) {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}
