//! The disk workload (`CONTRACT.md`, "Task i", disk): the data file, the block task `i`
//! reads or writes, its value, and the blocking form of one task.
//!
//! The file is a sequence of 8-byte little-endian words, word k being [`splitmix64`]`(k)`, so
//! any program can compute what a block holds without reading it: a model that reads the
//! wrong block, or a torn one, prints the wrong checksum. Task `i` reads block
//! `splitmix64(i) mod (file size / --bytes)`; its value is the wrapping sum of the block's
//! words.
//!
//! By default every read bypasses the page cache (O_DIRECT), so the device answers; O_DIRECT
//! wants the buffer, the offset and the length aligned to the device's logical block, which
//! [`AlignedBuf`] (4 KiB) and `--bytes` (a multiple of 4 KiB) guarantee. Nothing here knows
//! how a model waits: `serial`, `procs` and `threads` call [`DataFile::run_blocking`], the
//! loops and rings submit the same offset and length and hand the bytes to [`DataFile::value`].

use std::alloc::{self, Layout};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use crate::cli::Args;
use crate::error::TaskError;

pub use crate::cli::{ALIGN, DEFAULT_FILE_SIZE};

/// The standard splitmix64 mix: word k of the data file, and the block task i reads.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The wrapping sum of the little-endian words in `bytes`: a block's value.
pub fn words_sum(bytes: &[u8]) -> u64 {
    bytes
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
        .fold(0, u64::wrapping_add)
}

/// Fill `out` with the words the definition gives from byte `offset` on (a multiple of 8).
pub fn fill(offset: u64, out: &mut [u8]) {
    for (k, word) in (offset / 8..).zip(out.chunks_exact_mut(8)) {
        word.copy_from_slice(&splitmix64(k).to_le_bytes());
    }
}

/// The value of the block at `offset`, `bytes` long, computed from the definition.
pub fn computed_value(offset: u64, bytes: u64) -> u64 {
    (offset / 8..(offset + bytes) / 8).map(splitmix64).fold(0, u64::wrapping_add)
}

/// The checksum of `tasks` disk tasks over a file of `size` bytes in blocks of `bytes`.
pub fn expected_checksum(tasks: u32, size: u64, bytes: u64) -> u64 {
    let blocks = size / bytes;
    (0..tasks)
        .map(|i| computed_value(splitmix64(u64::from(i)) % blocks * bytes, bytes))
        .fold(0, u64::wrapping_add)
}

/// A zeroed buffer aligned to [`ALIGN`], as O_DIRECT needs: a `Vec<u8>` may sit anywhere.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the buffer owns its allocation alone, like a `Box<[u8]>`.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// `len` zero bytes (a multiple of [`ALIGN`], not 0) at an address aligned to [`ALIGN`].
    pub fn new(len: usize) -> AlignedBuf {
        let layout = Layout::from_size_align(len, ALIGN).expect("a valid buffer size");
        assert!(len > 0, "an empty buffer has nothing to align");
        // SAFETY: the layout's size is not zero (asserted above).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        AlignedBuf { ptr, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` points at `len` initialized (zeroed, then written) bytes we own.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.len, ALIGN).expect("the layout it was made with");
        // SAFETY: allocated in `new` with this very layout, and freed only here.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) }
    }
}

/// The buffers of a ring's operations in flight: `depth` blocks of one aligned allocation,
/// and which of them are free. One allocation, because a separate 4 KiB-aligned allocation
/// per read would cost glibc twice its size. Each ring runtime (`uring`, `monoio`) hands a
/// [`Block`] to the kernel under its own buffer trait.
pub struct Slots {
    /// Owns the memory; read and written only through the `Block`s, by their raw pointers.
    _memory: AlignedBuf,
    base: *mut u8,
    bytes: usize,
    free: std::cell::RefCell<Vec<usize>>,
}

impl Slots {
    /// `depth` zeroed blocks of `bytes` each, all free.
    pub fn new(depth: usize, bytes: usize) -> std::rc::Rc<Slots> {
        let mut memory = AlignedBuf::new(depth * bytes);
        let base = memory.as_mut_ptr();
        let free = std::cell::RefCell::new((0..depth).collect());
        std::rc::Rc::new(Slots { _memory: memory, base, bytes, free })
    }
}

/// One slot, the kernel's while its operation is in flight; back to the free list when
/// dropped.
pub struct Block {
    slots: std::rc::Rc<Slots>,
    slot: usize,
}

impl Block {
    /// A free slot: there is one for every permit the caller holds.
    pub fn take(slots: &std::rc::Rc<Slots>) -> Block {
        let slot = slots.free.borrow_mut().pop().expect("a free slot for every permit");
        Block { slots: slots.clone(), slot }
    }

    /// Where the block starts: stable for as long as the block lives.
    pub fn as_ptr(&self) -> *mut u8 {
        // SAFETY: `slot` < the slots' count, so the offset stays inside the allocation.
        unsafe { self.slots.base.add(self.slot * self.slots.bytes) }
    }

    /// Its size; every byte of it is always initialized (the memory starts zeroed).
    pub fn len(&self) -> usize {
        self.slots.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.slots.bytes == 0
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: slot `slot` is this block's alone until it is dropped, and lies inside the
        // allocation, which `slots` keeps alive.
        unsafe { std::slice::from_raw_parts_mut(self.as_ptr(), self.slots.bytes) }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        self.slots.free.borrow_mut().push(self.slot);
    }
}

/// The data file of one run, opened once: every task reads (or writes) one block of it.
pub struct DataFile {
    pub file: File,
    pub path: PathBuf,
    /// The file's size, which sets how many blocks there are.
    pub size: u64,
    /// `--bytes`: one task's block.
    pub bytes: u64,
    pub direct: bool,
    pub write: bool,
}

impl DataFile {
    /// The file `args` names (or the default one), created from the definition when missing,
    /// and opened as the run asks: O_DIRECT unless `--buffered`, O_DSYNC for `--write`.
    pub fn open(args: &Args) -> Result<DataFile, TaskError> {
        let path = args.data_file();
        let bytes = u64::from(args.bytes);
        let size = match fs::metadata(&path) {
            Ok(meta) if !meta.is_file() => {
                return Err(TaskError::new(format!(
                    "{} is {}, not a data file: name a regular --file (or a path where one may be made)",
                    path.display(),
                    kind_of(meta.file_type())
                )));
            }
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let size = args.file_size.unwrap_or(DEFAULT_FILE_SIZE);
                create(&path, size).map_err(|e| named(&path, "cannot create", &e))?;
                size
            }
            Err(e) => return Err(named(&path, "cannot read", &e)),
        };
        if let Some(asked) = args.file_size.filter(|&s| s != size) {
            return Err(TaskError::new(format!(
                "{} is {size} bytes, not the --file-size {asked} asked for: name another --file",
                path.display()
            )));
        }
        if size < bytes {
            return Err(TaskError::new(format!(
                "{} is {size} bytes, less than one block of --bytes {bytes}",
                path.display()
            )));
        }
        let mut options = OpenOptions::new();
        options.read(true).write(args.write);
        let mut flags = libc::O_CLOEXEC;
        if args.write {
            flags |= libc::O_DSYNC; // each write is on the device before it returns
        }
        if !args.buffered {
            flags |= libc::O_DIRECT;
        }
        let file = options.custom_flags(flags).open(&path).map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) if !args.buffered => refuses_direct(&path),
            _ => named(&path, "cannot open", &e),
        })?;
        Ok(DataFile { file, path, size, bytes, direct: !args.buffered, write: args.write })
    }

    /// Where task `id`'s block starts.
    pub fn offset(&self, id: u32) -> u64 {
        splitmix64(u64::from(id)) % (self.size / self.bytes) * self.bytes
    }

    /// A buffer for one block; for a write, `prepare` fills it with task `id`'s content.
    pub fn buffer(&self) -> AlignedBuf {
        AlignedBuf::new(self.bytes as usize)
    }

    /// Before a write is submitted: fill `buf` with what task `id`'s block must hold.
    pub fn prepare(&self, id: u32, buf: &mut [u8]) {
        if self.write {
            fill(self.offset(id), buf);
        }
    }

    /// Task `id`'s value once its read or write of `buf` has completed with `done` bytes
    /// (or an OS error): the sum of the block's words.
    pub fn value(&self, id: u32, done: io::Result<usize>, buf: &[u8]) -> Result<u64, TaskError> {
        let what = if self.write { "write" } else { "read" };
        let offset = self.offset(id);
        match done {
            Ok(n) if n == buf.len() => Ok(words_sum(buf)),
            Ok(n) => Err(TaskError::new(format!(
                "short {what} of {}: {n} of {} bytes at offset {offset}",
                self.path.display(),
                buf.len()
            ))),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && self.direct => {
                // The file opened with O_DIRECT, so its filesystem takes it: the transfer's
                // size or place does not suit the device.
                Err(TaskError::new(format!(
                    "{}: the device refused an O_DIRECT {what} of {} bytes at offset {offset} \
                     (EINVAL): its logical block size (`lsblk -t`) may be larger than --bytes; \
                     or pass --buffered",
                    self.path.display(),
                    buf.len()
                )))
            }
            Err(e) => Err(named(&self.path, &format!("{what} at offset {offset} failed:"), &e)),
        }
    }

    /// Task `id` on the calling thread, blocking it in `pread` or `pwrite` (`serial`,
    /// `procs`, `threads`, and the pools the loops hand files to).
    pub fn run_blocking(&self, id: u32, buf: &mut AlignedBuf) -> Result<u64, TaskError> {
        let offset = self.offset(id);
        self.prepare(id, buf);
        let done = if self.write {
            self.file.write_all_at(buf, offset)
        } else {
            self.file.read_exact_at(buf, offset)
        };
        self.value(id, done.map(|()| buf.len()), buf)
    }
}

/// The run's data file, opened once by [`open_once`] for the whole process.
static OPENED: std::sync::OnceLock<DataFile> = std::sync::OnceLock::new();

/// Open the data file `args` names, once per process (`task::prepare` does, before any task).
pub fn open_once(args: &Args) -> Result<&'static DataFile, TaskError> {
    if let Some(file) = OPENED.get() {
        return Ok(file);
    }
    let file = DataFile::open(args)?;
    Ok(OPENED.get_or_init(|| file))
}

/// The data file [`open_once`] opened.
pub fn opened() -> &'static DataFile {
    OPENED.get().expect("task::prepare opens the data file before any disk task runs")
}

/// Write the data file: every word from the definition, into a temporary file renamed into
/// place once whole, so that no run ever reads a half-made file.
fn create(path: &Path, size: u64) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if path == Args::default_data_file(size) {
            fs::create_dir_all(dir)?; // the default folder; a user's --file names an existing one
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "creating the data file {} ({size} bytes) from the definition",
        path.display()
    );
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let result = (|| {
        let mut out = io::BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut chunk = vec![0u8; 1 << 20];
        let mut at = 0;
        while at < size {
            let len = (size - at).min(chunk.len() as u64) as usize;
            fill(at, &mut chunk[..len]);
            out.write_all(&chunk[..len])?;
            at += len as u64;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn named(path: &Path, what: &str, e: &io::Error) -> TaskError {
    let mut error = TaskError::starting(&format!("{what} {}", path.display()), e);
    if error.limit.is_none() && e.raw_os_error() == Some(libc::ENOSPC) {
        error.limit = Some("free space on the file's filesystem".into());
    }
    error
}

/// What a path that is not a regular file is, in words.
fn kind_of(kind: fs::FileType) -> &'static str {
    match () {
        _ if kind.is_dir() => "a directory",
        _ if kind.is_fifo() => "a FIFO",
        _ if kind.is_char_device() => "a character device",
        _ if kind.is_block_device() => "a block device",
        _ if kind.is_socket() => "a socket",
        _ => "not a regular file",
    }
}

/// EINVAL from an open with O_DIRECT: the filesystem has no direct I/O (tmpfs, say), named
/// as the kernel names it.
fn refuses_direct(path: &Path) -> TaskError {
    let filesystem = filesystem_of(path).map_or("its filesystem".into(), |t| format!("its {t}"));
    TaskError::new(format!(
        "{}: {filesystem} filesystem refuses O_DIRECT (EINVAL at open): pass --buffered to go \
         through the page cache, or name a --file on a filesystem that takes it",
        path.display()
    ))
}

/// The type of the filesystem `path` is on, as the kernel names it ("ext4", "tmpfs"): from
/// /proc/self/mountinfo, the mount whose point is the longest prefix of the path.
pub fn filesystem_of(path: &Path) -> Option<String> {
    let path = fs::canonicalize(path).ok()?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo
        .lines()
        .filter_map(|line| {
            // "36 35 98:0 /root /mnt rw,noatime shared:1 - ext4 /dev/vda rw": the point is the
            // fifth field (spaces escaped as \040), the type the first after " - ".
            let point = line.split(' ').nth(4)?.replace("\\040", " ");
            let kind = line.split(" - ").nth(1)?.split(' ').next()?;
            path.starts_with(&point).then(|| (point.len(), kind.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_names_a_path_s_filesystem() {
        assert_eq!(filesystem_of(Path::new("/proc/self")).as_deref(), Some("proc"));
        assert_eq!(filesystem_of(Path::new("/sys/kernel")).as_deref(), Some("sysfs"));
    }

    #[test]
    fn splitmix64_is_the_standard_mix() {
        // The reference sequence from seed 0 (Vigna's splitmix64.c: x += golden; mix(x)).
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn a_blocks_value_is_the_sum_of_its_words() {
        let mut buf = AlignedBuf::new(ALIGN);
        assert_eq!(buf.as_mut_ptr() as usize % ALIGN, 0);
        fill(8192, &mut buf);
        assert_eq!(words_sum(&buf), computed_value(8192, ALIGN as u64));
        assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), splitmix64(1024));
    }
}
