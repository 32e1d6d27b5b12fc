//! What every model and peer must do with the disk workload (`CONTRACT.md`, "Task i"): read
//! the right blocks of a file made here, direct and buffered, at sizes no program was tuned
//! for; write blocks that read back as the definition; make a missing file; refuse bad sizes
//! with exit 2 and an unusable file with exit 1, naming it. Each check takes the program and
//! its leading arguments, so the models' `disk_tests!` and the peers' tests share them.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use workload::disk::{expected_checksum, fill, splitmix64};

/// A folder of its own under the build's `target/tmp`, on a real disk (O_DIRECT needs one)
/// and writable by whoever runs the tests; removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        use std::sync::atomic::{AtomicU32, Ordering};
        static MADE: AtomicU32 = AtomicU32::new(0);
        let exe = std::env::current_exe().expect("the test binary's path");
        // target/<profile>/deps/<test>: target/tmp beside the build.
        let target = exe.ancestors().nth(3).expect("the test binary sits in target/*/deps");
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let dir = target.join("tmp").join(format!("disk-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder under target/tmp");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    /// A data file of `size` bytes, made from the definition.
    pub fn data_file(&self, name: &str, size: usize) -> String {
        let mut bytes = vec![0u8; size];
        fill(0, &mut bytes);
        std::fs::write(self.0.join(name), bytes).expect("write the data file");
        self.path(name)
    }

    /// The names in the folder: a run leaves no temporary file behind.
    pub fn names(&self) -> Vec<String> {
        let entries = std::fs::read_dir(&self.0).expect("read the scratch folder");
        let mut names: Vec<_> =
            entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch::new()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(program: &str, lead: &[&str], args: &[&str]) -> crate::Outcome {
    crate::run(program, &[lead, args].concat())
}

/// 37 reads of 8 KiB from a file of 3 MiB + 12 KiB (not a whole number of blocks), direct
/// and then buffered, with `extra` arguments (a pool size, say): the checksum the definition
/// gives, and the disk fields of the report.
pub fn reads_yield_the_checksum(program: &str, lead: &[&str], extra: &[&str]) {
    let scratch = Scratch::new();
    let size = 3 * 1024 * 1024 + 12 * 1024;
    let file = scratch.data_file("data", size);
    let want = expected_checksum(37, size as u64, 8192);
    for buffered in [&[][..], &["--buffered"]] {
        let args = ["--workload", "disk", "--tasks", "37", "--bytes", "8192", "--file", &file];
        let report =
            run(program, lead, &[&args[..], buffered, extra, &["--json"]].concat()).success();
        assert_eq!(report["checksum"], want, "{buffered:?} {extra:?}: {report}");
        assert_eq!(report["workload"], "disk", "{report}");
        assert!(report["iops"].as_f64() > Some(0.0), "{report}");
        assert!(report["latency_ms"]["p99"].as_f64() >= Some(0.0), "{report}");
        assert!(report["peak_threads"].as_u64() >= Some(1), "{report}");
    }
    assert_eq!(scratch.names(), ["data"]);
}

/// `--write` into a file of zeros: every block a task wrote holds the definition's words,
/// every other block is still zero, and the checksum is the one reads would give.
pub fn writes_read_back_as_the_definition(program: &str, lead: &[&str]) {
    let scratch = Scratch::new();
    let size = 2 * 1024 * 1024;
    std::fs::write(scratch.0.join("data"), vec![0u8; size]).unwrap();
    let file = scratch.path("data");
    let args = ["--workload", "disk", "--write", "--tasks", "25", "--file", &file, "--json"];
    let report = run(program, lead, &args).success();
    assert_eq!(report["checksum"], expected_checksum(25, size as u64, 4096), "{report}");
    let written = std::fs::File::open(scratch.0.join("data")).unwrap();
    let blocks = (size / 4096) as u64;
    let mut touched = vec![false; blocks as usize];
    for i in 0..25u64 {
        touched[(splitmix64(i) % blocks) as usize] = true;
    }
    let (mut got, mut want) = (vec![0u8; 4096], vec![0u8; 4096]);
    for (block, &was_written) in touched.iter().enumerate() {
        let offset = block as u64 * 4096;
        written.read_exact_at(&mut got, offset).unwrap();
        want.fill(0);
        if was_written {
            fill(offset, &mut want);
        }
        assert!(got == want, "block {block} (written: {was_written}) does not hold what it should");
    }
}

/// A `--file` that does not exist is made from the definition at `--file-size`, whole, with
/// no temporary file left beside it.
pub fn a_missing_file_is_made_from_the_definition(program: &str, lead: &[&str]) {
    let scratch = Scratch::new();
    let file = scratch.path("made");
    let args =
        ["--workload", "disk", "--tasks", "9", "--file", &file, "--file-size", "1M", "--json"];
    let report = run(program, lead, &args).success();
    assert_eq!(report["checksum"], expected_checksum(9, 1 << 20, 4096), "{report}");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 1 << 20);
    assert_eq!(scratch.names(), ["made"]);
}

/// Bad sizes, and disk's flags with another workload: exit 2, a reason, nothing on stdout.
pub fn bad_disk_input_exits_2(program: &str, lead: &[&str]) {
    let cases: &[&[&str]] = &[
        &["--workload", "disk", "--bytes", "1000"],
        &["--workload", "disk", "--bytes", "0"],
        &["--workload", "disk", "--bytes", "-4096"],
        &["--workload", "disk", "--file-size", "5000"],
        &["--workload", "disk", "--file-size", "lots"],
        &["--workload", "sleep", "--bytes", "4096"],
        &["--workload", "cpu", "--buffered"],
        &["--workload", "http", "--file", "x"],
    ];
    for case in cases {
        let outcome = run(program, lead, case);
        assert_eq!(outcome.code, Some(2), "{case:?}: {}", outcome.stderr);
        assert!(outcome.stdout.is_empty(), "{case:?}: stdout {:?}", outcome.stdout);
        assert!(outcome.stderr.starts_with("Error: "), "{case:?}: {}", outcome.stderr);
    }
}

/// A file that cannot be made (its folder is missing) or holds less than one block: exit 1,
/// naming the file.
pub fn an_unusable_file_exits_1_naming_it(program: &str, lead: &[&str]) {
    let scratch = Scratch::new();
    let nowhere = scratch.path("no-such-folder/data");
    let small = scratch.data_file("small", 4096);
    for (file, bytes) in [(&nowhere, "4096"), (&small, "8192")] {
        let args = ["--workload", "disk", "--tasks", "2", "--file", file, "--bytes", bytes];
        let outcome = run(program, lead, &args);
        assert_eq!(outcome.code, Some(1), "{file}: {}", outcome.stderr);
        assert!(outcome.stderr.contains(file.as_str()), "{file}: {}", outcome.stderr);
        assert!(!outcome.stderr.contains("panicked"), "{file}: {}", outcome.stderr);
    }
    assert!(!Path::new(&nowhere).exists());
    // A path that is not a regular file is named as what it is, buffered or direct, and
    // nothing waits on it (a FIFO opened for reading would wait for a writer).
    let folder = scratch.path("a-folder");
    std::fs::create_dir(&folder).unwrap();
    let fifo = scratch.path("a-fifo");
    nix::unistd::mkfifo(fifo.as_str(), nix::sys::stat::Mode::S_IRWXU).unwrap();
    for (file, is) in [
        (&folder, "a directory"),
        (&fifo, "a FIFO"),
        (&"/dev/null".to_string(), "a character device"),
    ] {
        for buffered in [&[][..], &["--buffered"][..]] {
            let args =
                [&["--workload", "disk", "--tasks", "2", "--file", file][..], buffered].concat();
            let outcome = run(program, lead, &args);
            assert_eq!(outcome.code, Some(1), "{args:?}: {}", outcome.stderr);
            assert!(outcome.stderr.contains(is), "{args:?}: {}", outcome.stderr);
            for crash in ["panicked", "Traceback"] {
                assert!(!outcome.stderr.contains(crash), "{args:?}: {}", outcome.stderr);
            }
        }
    }
    // A filesystem with no direct I/O is named as the kernel names it: sysfs, whose
    // attributes are regular files of 4096 bytes, refuses O_DIRECT at open.
    if let Some(file) = a_sysfs_file_of_one_block() {
        let args = ["--workload", "disk", "--tasks", "1", "--file", &file, "--bytes", "4096"];
        let outcome = run(program, lead, &args);
        assert_eq!(outcome.code, Some(1), "{file}: {}", outcome.stderr);
        let says = "its sysfs filesystem refuses O_DIRECT";
        assert!(outcome.stderr.contains(says), "{file}: {}", outcome.stderr);
    }
}

/// A readable sysfs attribute of 4096 bytes, if this machine's /sys has one.
fn a_sysfs_file_of_one_block() -> Option<String> {
    let readable = |p: &Path| std::fs::File::open(p).is_ok();
    std::fs::read_dir("/sys/kernel").ok()?.flatten().map(|e| e.path()).find_map(|p| {
        let meta = std::fs::metadata(&p).ok()?;
        (meta.is_file() && meta.len() == 4096 && readable(&p)).then(|| p.display().to_string())
    })
}

/// The disk workload (`CONTRACT.md`, "Task i"): the right blocks, direct and buffered, with
/// and without a cap on the operations in flight (`--workers`, unless the model is serial);
/// writes that read back; a missing file made; bad sizes and unusable files refused.
#[macro_export]
macro_rules! disk_tests {
    ($bin:literal) => {
        use $crate::disk_checks as check;

        #[test]
        fn reads_yield_the_checksum_direct_and_buffered() {
            $crate::unless_it_runs!($bin, Disk);
            check::reads_yield_the_checksum(BIN, &[], &[]);
            let capped = |p: &$crate::roster::Program| {
                p.has_pool() || p.sizes($crate::roster::Sizes::Disk)
            };
            if $crate::suites::declares($bin, capped) {
                check::reads_yield_the_checksum(BIN, &[], &["--workers", "3"]);
            }
        }

        $crate::checks_as_tests!($bin, Disk, disk_checks: [
            writes_read_back_as_the_definition,
            a_missing_file_is_made_from_the_definition,
            bad_disk_input_exits_2,
            an_unusable_file_exits_1_naming_it,
        ]);

        #[test]
        fn timeline_has_a_span_per_disk_task() {
            $crate::unless_it_runs!($bin, Disk);
            let scratch = $crate::disk_checks::Scratch::new();
            let file = scratch.data_file("data", 1 << 20);
            let args = ["--workload", "disk", "--tasks", "6", "--file", &file];
            $crate::timeline_of(BIN, &[], &args, 6);
        }
    };
}

/// The disk workload's checks, where the program runs it.
pub const GROUP: crate::checks::CheckGroup =
    crate::checks::CheckGroup::new("disk", "The disk workload, in a scratch folder", || {
        crate::checks!(crate::Needs::DISK, disk_checks: [
            reads_yield_the_checksum(&[]),
            writes_read_back_as_the_definition,
            a_missing_file_is_made_from_the_definition,
            bad_disk_input_exits_2,
            an_unusable_file_exits_1_naming_it,
        ])
    });
