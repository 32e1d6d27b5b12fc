//! Which results are older than the code they measure: for each folder of `results/`, the
//! date its runs were made (the `date` of the machine facts beside them) and the commits to
//! the measured code since — the models, the peers, the roster. `bench readme` and
//! `--check` say it beside their verdict, so that a table made before the code changed is
//! not taken for one made after. It informs; it fails nothing: re-measuring is a choice
//! (`make bench-NAME`), and a run's figures stay true of the commit they were made at.

use std::path::Path;

/// What the results measure: a commit touching these may change a figure.
const MEASURED: [&str; 3] = ["crates", "scripts/peers", "roster.toml"];

/// One folder of results/ older than the code: when it was measured, and how many commits
/// to the measured code have come since.
pub struct Stale {
    pub folder: String,
    pub measured: String,
    pub commits_since: usize,
    /// The make target that measures it again.
    pub renew: String,
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

/// The newest `date` of the machine facts in the folder's JSON files (`facts.date`,
/// `machine.date`, or a `date` at the top).
fn measured_on(folder: &Path) -> Option<String> {
    let mut dates: Vec<String> = Vec::new();
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
                dates.push(date.to_string());
            }
        }
    }
    dates.into_iter().max()
}

/// The commits to the measured code since `date`, counted by git in the repository at `root`;
/// `None` where git cannot tell (no repository, a shallow clone).
fn commits_since(root: &Path, date: &str) -> Option<usize> {
    let mut argv = vec!["git".to_string(), "-C".into(), root.display().to_string()];
    argv.extend(["log".into(), "--oneline".into(), format!("--since={date}"), "--".into()]);
    argv.extend(MEASURED.map(String::from));
    child::output(&argv, false).ok().map(|log| log.lines().count())
}

/// Every folder of `results` measured before the latest commits to the code it measures.
pub fn report(root: &Path, results: &Path) -> Vec<Stale> {
    let mut folders: Vec<_> =
        std::fs::read_dir(results).into_iter().flatten().flatten().map(|e| e.path()).collect();
    folders.sort();
    folders
        .into_iter()
        .filter(|f| f.is_dir() && f.file_name().is_some_and(|n| n != "tmp"))
        .filter_map(|folder| {
            let measured = measured_on(&folder)?;
            let commits_since = commits_since(root, &measured)?;
            let name = folder.file_name()?.to_string_lossy().to_string();
            (commits_since > 0).then(|| Stale {
                folder: folder.display().to_string(),
                measured,
                commits_since,
                renew: renew(&name),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_measured_on_the_newest_date_of_its_facts() {
        let dir = std::env::temp_dir().join(format!("conclab-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let facts = r#"{"facts": {"date": "2026-11-30 08:32 UTC"}, "points": []}"#;
        std::fs::write(dir.join("a.json"), facts).unwrap();
        std::fs::write(dir.join("machine.json"), r#"{"date": "2026-12-01 10:00 UTC"}"#).unwrap();
        std::fs::write(dir.join("page.md"), "date 2027").unwrap();
        assert_eq!(measured_on(&dir).as_deref(), Some("2026-12-01 10:00 UTC"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(renew("seed"), "make bench");
        assert_eq!(renew("scale"), "make bench-scale");
    }
}
