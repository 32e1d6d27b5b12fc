//! `bench list`: the roster as a table — each program's runtime, workloads and flags, whether
//! it runs here (found by running it) and, where it does not, what installs it.

use crate::cli::List;
use crate::programs::{roster, Programs};
use crate::table::Table;
use roster::{Program, Workload};

/// A program's knobs as words: its flags, and "--workers (tasks, disk)" for what its
/// `--workers` sizes.
fn knobs(p: &Program) -> Vec<String> {
    let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut words: Vec<String> = p.flags.iter().map(|f| name(serde_json::json!(f))).collect();
    if !p.workers.is_empty() {
        let sized: Vec<String> = p.workers.iter().map(|s| name(serde_json::json!(s))).collect();
        words.insert(0, format!("workers ({})", sized.join(", ")));
    }
    words
}

/// The README's table of the peers, from the roster: each one's runtime, the workloads it
/// runs, and what it is.
pub fn peers_section(_results: &std::path::Path) -> anyhow::Result<String> {
    let mut t = Table::headed("peer | runtime | workloads | what it is");
    for p in roster().peers() {
        t.push(vec![
            format!("`{}`", p.id),
            p.runtime.clone(),
            workloads(&p.workloads),
            p.doc.clone(),
        ]);
    }
    Ok(t.render())
}

/// The workloads a program runs, in words: "all", or their names.
fn workloads(given: &[Workload]) -> String {
    match given.len() == Workload::ALL.len() {
        true => "all".to_string(),
        false => given.iter().map(|w| w.name()).collect::<Vec<_>>().join(", "),
    }
}

pub fn list(o: &List) -> anyhow::Result<()> {
    let r = roster();
    let chosen: Vec<_> =
        r.program.iter().filter(|p| o.runtime.as_ref().is_none_or(|rt| &p.runtime == rt)).collect();
    if o.ids {
        chosen.iter().for_each(|p| println!("{}", p.id));
        return Ok(());
    }
    let programs = Programs::with(crate::programs::places(o.python.as_deref()));
    let words = |knobs: Vec<String>| knobs.join(", ");
    if o.json {
        for p in &chosen {
            let line = serde_json::json!({
                "id": p.id, "runtime": p.runtime, "run": p.argv(&programs.places),
                "workloads": p.workloads, "flags": p.flags, "workers": p.workers,
                "install": p.install, "doc": p.doc,
                "runs_here": programs.missing(p),
            });
            println!("{line}");
        }
        return Ok(());
    }
    let mut t = Table::headed("id | runtime | workloads | flags | runs here | what it is");
    for p in &chosen {
        t.push(vec![
            p.id.clone(),
            p.runtime.clone(),
            workloads(&p.workloads),
            words(knobs(p)),
            programs.missing(p).map_or("yes".into(), |why| format!("no: {why}")),
            p.doc.clone(),
        ]);
    }
    print!("{}", t.render());
    println!("\n{} programs, from {}", chosen.len(), roster::Roster::path().display());
    Ok(())
}
