//! The block device under the data file: what it is, for the facts, and its own count of
//! the reads it served and of the time they spent in it (`/sys/dev/block/M:m/stat`), so that
//! a read's time splits into the kernel's block layer and the device on one side, and the
//! program and its queues on the other.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The device's directory in sysfs (a partition's, if the file is on one); `None` where the
/// file could not be found, and then nothing is known of it.
pub struct Device {
    sys: Option<PathBuf>,
}

/// The device's read counters at one moment: reads completed, and the milliseconds they
/// spent from the block layer taking them to the device completing them, summed over reads.
#[derive(Clone, Copy)]
struct ReadCounters {
    reads: u64,
    ms: u64,
}

impl Device {
    /// The device under `file`.
    pub fn of(file: &Path) -> Device {
        let sys = std::fs::metadata(file).ok().map(|meta| {
            let (major, minor) =
                (nix::sys::stat::major(meta.dev()), nix::sys::stat::minor(meta.dev()));
            PathBuf::from(format!("/sys/dev/block/{major}:{minor}"))
        });
        Device { sys }
    }

    /// Its name, scheduler and queue depth, for the facts.
    pub fn describe(&self) -> String {
        let Some(sys) = &self.sys else { return "unknown".into() };
        let name = std::fs::canonicalize(sys)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| sys.display().to_string());
        // A partition's queue is its disk's.
        let queue = ["queue", "../queue"]
            .iter()
            .map(|q| sys.join(q))
            .find(|q| q.exists())
            .unwrap_or_default();
        let read = |f: &str| {
            std::fs::read_to_string(queue.join(f)).map(|s| s.trim().to_string()).unwrap_or_default()
        };
        format!("{name}, scheduler {}, nr_requests {}", read("scheduler"), read("nr_requests"))
    }

    /// What `run` returns, and the mean time in milliseconds a read spent in the block layer
    /// and the device while it ran, if the device counted any. The counters are the device's,
    /// so another process's reads would count too: the benchmark is the file's only reader,
    /// on a machine otherwise idle.
    pub fn timed<T>(&self, run: impl FnOnce() -> T) -> (T, Option<f64>) {
        let before = self.counters();
        let ran = run();
        let mean = before.zip(self.counters()).and_then(|(a, b)| {
            let reads = b.reads.checked_sub(a.reads).filter(|&r| r > 0)?;
            Some(b.ms.saturating_sub(a.ms) as f64 / reads as f64)
        });
        (ran, mean)
    }

    /// Fields 1 and 4 of the stat file: reads completed, and milliseconds spent reading.
    fn counters(&self) -> Option<ReadCounters> {
        let text = std::fs::read_to_string(self.sys.as_ref()?.join("stat")).ok()?;
        let fields: Vec<u64> =
            text.split_whitespace().map(|f| f.parse().ok()).collect::<Option<_>>()?;
        Some(ReadCounters { reads: *fields.first()?, ms: *fields.get(3)? })
    }
}
