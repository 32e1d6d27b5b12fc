//! What a check needs of a program, read from its roster.toml entry: the workloads it runs
//! and the flags it takes. A partial program (`CONTRACT.md`, "A partial program") is checked
//! on what it takes and nothing else — by the peers' tests and by `bench conform --program`.

use roster::{Flag, Program, Workload};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    pub workloads: &'static [Workload],
    pub flags: &'static [Flag],
}

impl Needs {
    /// A check any program passes: its arguments, its version.
    pub const NOTHING: Needs = Needs { workloads: &[], flags: &[] };
    pub const SLEEP: Needs = Needs::workload(&[Workload::Sleep]);
    pub const CPU: Needs = Needs::workload(&[Workload::Cpu]);
    pub const HTTP: Needs = Needs::workload(&[Workload::Http]);
    pub const DISK: Needs = Needs::workload(&[Workload::Disk]);
    pub const BRIGADE: Needs = Needs::workload(&[Workload::Brigade]);
    pub const DB: Needs = Needs::workload(&[Workload::Db]);
    pub const CRAWL: Needs = Needs::workload(&[Workload::Crawl]);
    pub const SERVE: Needs = Needs::flag(&[Flag::Serve]);
    /// Sleeping tasks drawn on `--timeline FILE`.
    pub const SLEEP_TIMELINE: Needs =
        Needs { workloads: &[Workload::Sleep], flags: &[Flag::Timeline] };

    pub const fn workload(workloads: &'static [Workload]) -> Needs {
        Needs { workloads, flags: &[] }
    }

    pub const fn flag(flags: &'static [Flag]) -> Needs {
        Needs { workloads: &[], flags }
    }

    /// Whether the program the entry declares runs every workload and takes every flag.
    pub fn met_by(&self, p: &Program) -> bool {
        self.workloads.iter().all(|&w| p.runs(w)) && self.flags.iter().all(|&f| p.takes(f))
    }
}
