//! Which results are older than the code they measure: for each folder of `results/`, the
//! commit its runs were made at and whether the measured code had changes of its own then
//! (the `commit` and `tree` of the machine facts beside them; the `date` alone for results
//! made before the facts had them), and the commits to the measured code since — the
//! models, the peers, the roster. `bench results` lists every folder; `bench readme` and
//! `--check` name the stale ones beside their verdict, so that a table made before the code
//! changed is not taken for one made after. It informs; it fails nothing: re-measuring is a
//! choice (`make bench-NAME`), and a run's figures stay true of the commit they were made at.

use std::path::Path;

/// What the results measure, as git pathspecs: the models and what they share, the peers,
/// the roster — a commit touching these may change a figure. Not the harness that runs and
/// draws them (`crates/bench`, `crates/testkit`) nor the crates' tests, which no benchmark
/// runs: a page the harness would draw differently is redrawn from its JSON (`--redraw`),
/// and a figure it adds shows as "—" until the next run.
pub const MEASURED: [&str; 6] = [
    "crates",
    ":(exclude)crates/bench",
    ":(exclude)crates/testkit",
    ":(exclude,glob)crates/*/tests/**",
    "scripts/peers",
    "roster.toml",
];

/// One folder of results/: when and at which commit it was measured, and how many commits
/// to the measured code have come since.
pub struct Stale {
    pub folder: String,
    pub measured: Measured,
    pub commits_since: usize,
    /// The make target that measures it again.
    pub renew: String,
}

/// When a folder's runs were made: the newest of its facts.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub date: String,
    /// The commit, where the facts have it, and what the tree held beside it.
    pub commit: Option<String>,
    pub tree: Option<String>,
}

impl Measured {
    /// "2026-12-06 10:07 UTC at f77b283ab12c (clean)", or the date alone.
    pub fn describe(&self) -> String {
        match (&self.commit, &self.tree) {
            (Some(c), Some(t)) => format!("{} at {c} ({t})", self.date),
            (Some(c), None) => format!("{} at {c}", self.date),
            _ => self.date.clone(),
        }
    }
}

/// The crawl's own files — each model's part or module for it, its frontier, the web it
/// crawls, the peers' crawlers — left out of what every other folder measures: results/crawl
/// is the one suite that runs the crawl workload, so a commit to these alone changes none
/// of the other figures.
const CRAWL_ONLY: [&str; 5] = [
    ":(exclude,glob)crates/*/src/**/crawl*.rs",
    ":(exclude)crates/workload/src/crawl",
    ":(exclude)crates/web",
    ":(exclude,glob)scripts/peers/**/*crawl*",
    ":(exclude)scripts/peers/crawl.py",
];

/// What one folder's results measure, where it is not all of [`MEASURED`]: the fuzz targets
/// the parsers alone, and their harness — not the corpus and the regressions, which are the
/// fuzzer's inputs and findings, committed with its results; bench-loom the Java peer alone;
/// every folder but crawl, all but the crawl's own files.
fn measured_by(folder: &str) -> Vec<&'static str> {
    match folder {
        "fuzz" => vec![
            "crates/workload/src/http.rs",
            "crates/workload/src/serve",
            "fuzz",
            ":(exclude)fuzz/corpus",
            ":(exclude)fuzz/regressions",
        ],
        "loom" => vec!["scripts/peers/java", "roster.toml"],
        "crawl" => MEASURED.to_vec(),
        _ => MEASURED.iter().chain(&CRAWL_ONLY).copied().collect(),
    }
}

/// The make target behind a folder of results/: `make bench` writes `seed`, the others
/// are named for theirs.
fn renew(folder: &str) -> String {
    match folder {
        "seed" => "make bench".into(),
        "fuzz" | "soak" | "timelines" => format!("make {folder}"),
        other => format!("make bench-{other}"),
    }
}

/// The newest facts in the folder's JSON files (`facts`, `machine`, or at the top): their
/// `date`, and the `commit` and `tree` beside it where they are recorded.
fn measured_on(folder: &Path) -> Option<Measured> {
    let mut found: Vec<Measured> = Vec::new();
    for entry in std::fs::read_dir(folder).ok()?.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(json) = std::fs::read_to_string(&path)
            .map_err(|_| ())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|_| ()))
        else {
            continue;
        };
        for facts in [&json, &json["facts"], &json["machine"]] {
            if let Some(date) = facts["date"].as_str() {
                let text = |key: &str| facts[key].as_str().map(String::from);
                found.push(Measured {
                    date: date.into(),
                    commit: text("commit"),
                    tree: text("tree"),
                });
            }
        }
    }
    found.into_iter().max_by(|a, b| a.date.cmp(&b.date))
}

/// The commits to the measured code since the measurement — after its commit, or where
/// that is not recorded, since its date — counted by git in the repository at `root`,
/// leaving out those that change only comments there; `None` where git cannot tell (no
/// repository, a shallow clone, a commit it does not have).
fn commits_since(root: &Path, folder: &str, measured: &Measured) -> Option<usize> {
    let mut args = vec!["log".to_string(), "--format=%H".into()];
    args.push(match &measured.commit {
        Some(commit) => format!("{commit}..HEAD"),
        // A day without a time is its start: git reads a bare date as that day at the
        // current time of day, which would leave out the day's earlier commits.
        None if !measured.date.contains(':') => format!("--since={} 00:00 UTC", measured.date),
        None => format!("--since={}", measured.date),
    });
    let pathspecs = measured_by(folder);
    args.push("--".into());
    args.extend(pathspecs.iter().map(|p| p.to_string()));
    let log = crate::git::output(root, &args).ok()?;
    let mut counted = 0;
    for commit in log.lines() {
        let mut show = vec!["show", "--format=", "--unified=0", "--no-renames", commit, "--"];
        show.extend(pathspecs.iter().copied());
        if !only_comments(&crate::git::output(root, &show).ok()?) {
            counted += 1;
        }
    }
    Some(counted)
}

/// Whether a diff (`git show --unified=0`) changes nothing but comments of Rust files —
/// text the compiler never reads, which can change no figure (a doc moved from one file to
/// another, say). Any other file, a file added or removed, or a line that is not blank and
/// not `//` after its indent, and the commit counts. (A line inside a string literal that
/// happens to begin `//` would read as a comment: no measured code has one.)
fn only_comments(diff: &str) -> bool {
    let mut in_hunk = false;
    for line in diff.lines() {
        if let Some(files) = line.strip_prefix("diff --git ") {
            if !files.ends_with(".rs") {
                return false;
            }
            in_hunk = false;
        } else if line.starts_with("@@") {
            in_hunk = true;
        } else if !in_hunk {
            if line.starts_with("new file") || line.starts_with("deleted file") {
                return false;
            }
        } else if let Some(changed) = line.strip_prefix(['+', '-']) {
            let code = changed.trim();
            if !code.is_empty() && !code.starts_with("//") {
                return false;
            }
        }
    }
    true
}

/// Every folder of `results` with its measurement and the commits since, stale or not.
pub fn every(root: &Path, results: &Path) -> Vec<Stale> {
    let mut folders: Vec<_> =
        std::fs::read_dir(results).into_iter().flatten().flatten().map(|e| e.path()).collect();
    folders.sort();
    folders
        .into_iter()
        .filter(|f| f.is_dir() && f.file_name().is_some_and(|n| n != "tmp"))
        .filter_map(|folder| {
            let measured = measured_on(&folder)?;
            let name = folder.file_name()?.to_string_lossy().to_string();
            let commits_since = commits_since(root, &name, &measured)?;
            Some(Stale {
                folder: folder.display().to_string(),
                measured,
                commits_since,
                renew: renew(&name),
            })
        })
        .collect()
}

/// The folders of `results` measured before the latest commits to the code they measure, or
/// from a tree whose measured code had changes of its own.
pub fn report(root: &Path, results: &Path) -> Vec<Stale> {
    let changed = |s: &Stale| s.measured.tree.as_deref().is_some_and(|t| t != "clean");
    every(root, results).into_iter().filter(|s| s.commits_since > 0 || changed(s)).collect()
}

/// `bench results`: every folder, when and at which commit it was measured, and whether the
/// code it measures has changed since. A list, never a failure.
pub fn list(root: &Path, results: &Path) {
    for s in every(root, results) {
        let state = match s.commits_since {
            0 if s.measured.tree.as_deref().is_some_and(|t| t != "clean") => {
                format!("measured with uncommitted changes (`{}` renews it)", s.renew)
            }
            0 => "up to date".into(),
            n => format!("{n} commits to the code it measures since (`{}` renews it)", s.renew),
        };
        println!("{}: {} · {state}", s.folder, s.measured.describe());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_measured_on_the_newest_of_its_facts() {
        let dir = std::env::temp_dir().join(format!("conclab-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let facts = r#"{"facts": {"date": "2026-11-30 08:32 UTC"}, "points": []}"#;
        std::fs::write(dir.join("a.json"), facts).unwrap();
        std::fs::write(dir.join("machine.json"), r#"{"date": "2026-12-01 10:00 UTC"}"#).unwrap();
        std::fs::write(dir.join("page.md"), "date 2027").unwrap();
        let newest = measured_on(&dir).unwrap();
        assert_eq!((newest.date.as_str(), newest.commit), ("2026-12-01 10:00 UTC", None));
        let at = r#"{"date": "2026-12-02 09:00 UTC", "commit": "f77b283ab12c", "tree": "clean"}"#;
        std::fs::write(dir.join("b.json"), at).unwrap();
        let newest = measured_on(&dir).unwrap();
        assert_eq!(newest.describe(), "2026-12-02 09:00 UTC at f77b283ab12c (clean)");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(renew("seed"), "make bench");
        assert_eq!(renew("scale"), "make bench-scale");
    }

    #[test]
    fn a_commit_to_comments_alone_changes_no_figure() {
        let diff = |file: &str, hunk: &str| {
            format!("diff --git a/{file} b/{file}\nindex 1..2 100644\n--- a/{file}\n+++ b/{file}\n@@ -1 +1 @@\n{hunk}\n")
        };
        let docs =
            diff("crates/ring/src/main.rs", "-//! old words\n+//! new words\n+   // and more\n+");
        assert!(only_comments(&docs));
        assert!(only_comments(&(docs.clone() + &diff("crates/ring/src/a.rs", "-    /// a doc"))));
        assert!(!only_comments(&diff("crates/ring/src/main.rs", "+    let x = 1; // a value")));
        assert!(!only_comments(&diff("crates/ring/src/main.rs", "---x")));
        assert!(!only_comments(&(docs + &diff("scripts/peers/go.py", "+# a comment"))));
        let added = "diff --git a/crates/x.rs b/crates/x.rs\nnew file mode 100644\n@@ -0,0 +1 @@\n+// only\n";
        assert!(!only_comments(added));
    }
}
