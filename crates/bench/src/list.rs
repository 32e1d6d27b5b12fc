//! `bench list`: the roster as a table — each program's runtime, workloads and flags, whether
//! it runs here (found by running it) and, where it does not, what installs it.

use crate::cli::List;
use crate::programs::{roster, Programs};
use crate::table::Table;

pub fn list(o: &List) -> anyhow::Result<()> {
    let r = roster();
    let chosen: Vec<_> =
        r.program.iter().filter(|p| o.runtime.as_ref().is_none_or(|rt| &p.runtime == rt)).collect();
    if o.ids {
        chosen.iter().for_each(|p| println!("{}", p.id));
        return Ok(());
    }
    let programs = Programs::with(crate::programs::places(o.python.as_deref()));
    let every = |given: &[String], all: &[&str]| {
        if given.len() == all.len() {
            "all".to_string()
        } else {
            given.join(", ")
        }
    };
    if o.json {
        for p in &chosen {
            let line = serde_json::json!({
                "id": p.id, "runtime": p.runtime, "run": p.argv(&programs.places),
                "workloads": p.workloads, "flags": p.flags, "install": p.install, "doc": p.doc,
                "runs_here": programs.missing(p),
            });
            println!("{line}");
        }
        return Ok(());
    }
    let mut t = Table::new(&["id", "runtime", "workloads", "flags", "runs here", "what it is"]);
    for p in &chosen {
        t.push(vec![
            p.id.clone(),
            p.runtime.clone(),
            every(&p.workloads, &roster::WORKLOADS),
            p.flags.join(", "),
            programs.missing(p).map_or("yes".into(), |why| format!("no: {why}")),
            p.doc.clone(),
        ]);
    }
    print!("{}", t.render());
    println!("\n{} programs, from {}", chosen.len(), roster::Roster::path().display());
    Ok(())
}
