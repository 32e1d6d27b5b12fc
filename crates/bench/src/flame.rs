//! `make flame`: where one run's time goes, drawn. The run goes under `perf record` on the
//! software clock (this machine kind has no hardware counters), its user and kernel stacks
//! unwound with DWARF; inferno folds the stacks and draws them as one SVG. A frame's width is
//! its share of the samples: the scheduler, futexes, `ep_poll`, io_uring's task work, TCP,
//! or the program's own code.

use std::path::{Path, PathBuf};

/// Samples a second of each CPU: a prime, so that the sampling does not beat with a timer.
const HZ: &str = "997";

/// Where the flame graph of `model` on `workload` goes unless told: target/flame/.
pub fn default_out(model: &str, workload: &str) -> PathBuf {
    PathBuf::from("target").join("flame").join(format!("{model}-{workload}.svg"))
}

/// `perf record` on the software clock with DWARF call graphs, writing to `data`, followed
/// by the command it records.
pub fn perf_record(data: &Path) -> Vec<String> {
    let mut record: Vec<String> = ["perf", "record", "-q", "-F", HZ, "-e", "cpu-clock"]
        .into_iter()
        .map(String::from)
        .collect();
    record.extend(["--call-graph", "dwarf", "-o"].map(String::from));
    record.push(data.display().to_string());
    record.push("--".into());
    record
}

/// Run `argv` under `perf record`, then fold and draw its stacks into `out` with the inferno
/// binaries in `inferno`.
pub fn draw(argv: &[String], out: &Path, inferno: &Path, title: &str) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    let data = out.with_extension("perf.data");
    record(argv, &data)?;
    let folded = fold_and_draw(&data, out, inferno, title)?;
    let folded_path = out.with_extension("folded");
    std::fs::write(&folded_path, folded)?;
    eprintln!(
        "written to {} (the folded stacks beside it: {})",
        out.display(),
        folded_path.display()
    );
    Ok(())
}

/// Run `argv` to its end under `perf record`, the samples to `data`.
pub fn record(argv: &[String], data: &Path) -> anyhow::Result<()> {
    let mut record = perf_record(data);
    record.extend(argv.iter().cloned());
    eprintln!("$ {}", record.join(" "));
    match child::run_attached(child::argv(&record), child::limit()) {
        Ok(Some(status)) if status.success() => Ok(()),
        Ok(Some(status)) => anyhow::bail!("perf record exited with {status} (is perf installed, and kernel.perf_event_paranoid ≤ 1?)"),
        Ok(None) => anyhow::bail!("perf record timed out"),
        Err(e) => anyhow::bail!("cannot run perf: {e}"),
    }
}

/// Fold the stacks `perf record` wrote to `data` (removed after) and draw them into `out`;
/// the folded stacks, one line a stack with its weight, kernel frames marked `_[k]`.
pub fn fold_and_draw(
    data: &Path,
    out: &Path,
    inferno: &Path,
    title: &str,
) -> anyhow::Result<String> {
    let stacks = data.with_extension("txt");
    let script = child::output(
        &["perf".into(), "script".into(), "-i".into(), data.display().to_string()],
        false,
    )
    .map_err(anyhow::Error::msg)?;
    std::fs::write(&stacks, script)?;
    let tool = |name: &str| inferno.join(name).display().to_string();
    let folded = child::output(
        &[tool("inferno-collapse-perf"), "--kernel".into(), stacks.display().to_string()],
        false,
    )
    .map_err(|e| anyhow::anyhow!("{e} (make flame installs inferno into .tools/)"))?;
    let folded_path = out.with_extension("folded.tmp");
    std::fs::write(&folded_path, &folded)?;
    let svg = child::output(
        &[
            tool("inferno-flamegraph"),
            "--title".into(),
            title.into(),
            folded_path.display().to_string(),
        ],
        false,
    )
    .map_err(anyhow::Error::msg)?;
    std::fs::write(out, svg)?;
    for scratch in [data, &stacks, &folded_path] {
        let _ = std::fs::remove_file(scratch);
    }
    Ok(folded)
}

/// Where a sample's time went, named by the innermost frame of its stack that says.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Where {
    /// TCP/IP on loopback: sending, receiving, the softirq that delivers.
    Tcp,
    /// io_uring: submitting, issuing, and its task work.
    IoUring,
    /// epoll: `ep_poll` and the readiness lists.
    Epoll,
    Futex,
    /// Putting threads to sleep, waking them, switching between them.
    Scheduler,
    /// Timers: hrtimers, nanosleep.
    Timers,
    /// Memory: the allocators (user and kernel), page faults, mappings.
    Memory,
    /// Processes and threads made and ended: clone, exit, wait.
    Processes,
    /// Entering and leaving the kernel.
    SyscallEntry,
    /// The kernel, elsewhere.
    OtherKernel,
    /// The program's own code and its runtime's.
    OwnCode,
}

impl Where {
    pub fn words(self) -> &'static str {
        match self {
            Where::Tcp => "TCP/IP",
            Where::IoUring => "io_uring",
            Where::Epoll => "epoll",
            Where::Futex => "futexes",
            Where::Scheduler => "the scheduler",
            Where::Timers => "timers",
            Where::Memory => "memory",
            Where::Processes => "making and ending processes and threads",
            Where::SyscallEntry => "entering and leaving the kernel",
            Where::OtherKernel => "the kernel, elsewhere",
            Where::OwnCode => "its own code",
        }
    }

    /// The category a frame names, if it names one. Kernel frames carry inferno's `_[k]`.
    fn of_frame(frame: &str) -> Option<Where> {
        let (name, kernel) = match frame.strip_suffix("_[k]") {
            Some(name) => (name, true),
            None => (frame, false),
        };
        let starts = |prefixes: &[&str]| prefixes.iter().any(|p| name.starts_with(p));
        if kernel && starts(&["io_", "__io_", "tctx_task_work", "__x64_sys_io_uring"]) {
            return Some(Where::IoUring);
        }
        if kernel && starts(&["ep_", "do_epoll", "__x64_sys_epoll", "__ep_"]) {
            return Some(Where::Epoll);
        }
        if starts(&["futex", "__futex", "__x64_sys_futex", "do_futex"]) {
            return Some(Where::Futex);
        }
        if kernel
            && starts(&[
                "tcp_",
                "__tcp",
                "ip_",
                "__ip",
                "inet",
                "__inet",
                "sock_",
                "__sock",
                "sk_",
                "__sk",
                "skb_",
                "__skb",
                "__kfree_skb",
                "kfree_skb",
                "loopback",
                "__netif",
                "netif_",
                "net_rx",
                "__napi",
                "napi_",
                "process_backlog",
                "__dev_queue",
                "dev_hard_start",
                "__sys_sendto",
                "__sys_recvfrom",
                "__sys_accept",
                "__sys_connect",
                "__sys_socket",
                "__sys_sendmsg",
                "__sys_recvmsg",
                "release_sock",
                "lock_sock",
                "__release_sock",
                "security_socket",
                "__x64_sys_sendto",
                "__x64_sys_recvfrom",
                "do_softirq",
                "__do_softirq",
                "handle_softirqs",
                "__local_bh_enable",
                "neigh_",
            ])
        {
            return Some(Where::Tcp);
        }
        if kernel
            && starts(&[
                "schedule",
                "__schedule",
                "finish_task_switch",
                "pick_next",
                "try_to_wake_up",
                "enqueue_",
                "dequeue_",
                "update_curr",
                "__wake_up",
                "wake_up",
                "psi_",
                "select_task_rq",
                "ttwu",
                "sched_",
                "__sched",
                "set_next_entity",
                "put_prev",
                "__switch_to",
                "context_switch",
                "switch_mm",
                "update_load",
                "reweight",
            ])
        {
            return Some(Where::Scheduler);
        }
        if kernel
            && starts(&[
                "hrtimer",
                "__hrtimer",
                "timerqueue",
                "do_nanosleep",
                "__x64_sys_clock_nanosleep",
                "common_nsleep",
            ])
        {
            return Some(Where::Timers);
        }
        if starts(&[
            "kmem_cache",
            "__kmalloc",
            "kmalloc",
            "kfree",
            "__kfree",
            "__alloc_pages",
            "alloc_pages",
            "allocate_slab",
            "___slab",
            "__slab",
            "slab_",
            "asm_exc_page_fault",
            "exc_page_fault",
            "do_user_addr_fault",
            "handle_mm_fault",
            "do_anonymous",
            "clear_page",
            "malloc",
            "__libc_malloc",
            "_int_malloc",
            "_int_free",
            "free",
            "cfree",
            "__libc_free",
            "realloc",
            "__mmap",
            "__munmap",
            "do_mmap",
            "mmap",
            "munmap",
            "zap_",
            "unmap",
            "__x64_sys_mmap",
            "__x64_sys_munmap",
            "__x64_sys_mprotect",
            "mprotect",
            "__rust_alloc",
            "__rust_dealloc",
            "alloc::alloc",
            "__mem_cgroup",
            "mem_cgroup",
            "folio",
            "__folio",
            "vma_",
        ]) {
            return Some(Where::Memory);
        }
        // Kernel frames only: a thread's own stack starts at `start_thread` and `__clone`,
        // which say nothing about where its time goes.
        if kernel
            && starts(&[
                "copy_process",
                "do_exit",
                "exit_mmap",
                "do_wait",
                "kernel_clone",
                "__do_sys_clone",
                "__x64_sys_clone",
                "do_group_exit",
                "kernel_wait4",
                "__x64_sys_wait4",
                "do_execve",
                "__x64_sys_execve",
                "dup_mm",
                "dup_mmap",
                "release_task",
                "__x64_sys_exit",
            ])
        {
            return Some(Where::Processes);
        }
        if kernel
            && starts(&[
                "entry_SYSCALL",
                "do_syscall_64",
                "syscall_exit",
                "syscall_return",
                "exit_to_user_mode",
                "__x64_sys_",
                "x64_sys_call",
                "syscall_enter",
            ])
        {
            return Some(Where::SyscallEntry);
        }
        None
    }

    /// The category of one folded stack: its innermost frame that names one; else the
    /// kernel if the innermost frame is the kernel's, else the program's own code.
    pub fn of_stack(stack: &str) -> Where {
        let frames: Vec<&str> = stack.split(';').collect();
        frames.iter().rev().find_map(|f| Where::of_frame(f)).unwrap_or_else(|| {
            if frames.last().is_some_and(|f| f.ends_with("_[k]")) {
                Where::OtherKernel
            } else {
                Where::OwnCode
            }
        })
    }
}

/// Each category's share of the samples in `folded` (lines of `stack weight`), largest first.
pub fn shares(folded: &str) -> Vec<(Where, f64)> {
    let mut weights = std::collections::BTreeMap::<Where, f64>::new();
    let mut total = 0.0;
    for line in folded.lines() {
        let Some((stack, weight)) = line.rsplit_once(' ') else { continue };
        let Ok(weight) = weight.parse::<f64>() else { continue };
        *weights.entry(Where::of_stack(stack)).or_default() += weight;
        total += weight;
    }
    let mut shares: Vec<(Where, f64)> =
        weights.into_iter().map(|(w, v)| (w, if total > 0.0 { v / total } else { 0.0 })).collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    shares
}

/// The CPU time `folded`'s stacks stand for, in seconds. inferno's collapse-perf weighs each
/// stack by its samples' period, and cpu-clock counts its period in nanoseconds of CPU (about
/// 1/[`HZ`] s a sample): the weights' sum is the time the program's threads ran.
pub fn cpu_seconds(folded: &str) -> f64 {
    let weight = |line: &str| line.rsplit_once(' ')?.1.parse::<f64>().ok();
    let nanoseconds: f64 = folded.lines().filter_map(weight).sum();
    nanoseconds / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_is_named_by_its_innermost_frame_that_says() {
        // memcpy inside tcp_sendmsg is TCP's time; a user frame under nothing known is the
        // program's; a kernel frame under nothing known is the kernel's.
        assert_eq!(
            Where::of_stack(
                "ring;main;__send;entry_SYSCALL_64_[k];tcp_sendmsg_[k];memcpy_orig_[k]"
            ),
            Where::Tcp
        );
        assert_eq!(
            Where::of_stack("ring;main;io_uring_enter_[k];io_submit_sqes_[k];tcp_recvmsg_[k]"),
            Where::Tcp
        );
        assert_eq!(
            Where::of_stack("ring;main;io_uring_enter_[k];io_submit_sqes_[k]"),
            Where::IoUring
        );
        assert_eq!(
            Where::of_stack("epoll;main;epoll_wait;do_epoll_wait_[k];ep_poll_[k];schedule_[k]"),
            Where::Scheduler
        );
        assert_eq!(Where::of_stack("tokio;main;sha2::compress"), Where::OwnCode);
        assert_eq!(
            Where::of_stack("tokio;__clone3;start_thread;tokio::worker::run"),
            Where::OwnCode
        );
        assert_eq!(
            Where::of_stack(
                "procs;fork;entry_SYSCALL_64_[k];kernel_clone_[k];copy_process_[k];memcg_[k]"
            ),
            Where::Processes
        );
        assert_eq!(
            Where::of_stack("tokio;main;asm_sysvec_apic_timer_interrupt_[k];irq_[k]"),
            Where::OtherKernel
        );
        let s = shares(
            "a;tcp_sendmsg_[k] 3
b;main 1
",
        );
        assert_eq!(s, vec![(Where::Tcp, 0.75), (Where::OwnCode, 0.25)]);
    }
}
