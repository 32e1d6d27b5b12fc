//! The repository's history, read through git: the commit a result was measured at, the
//! commits to the measured code since, a page as an earlier commit had it. Every git
//! command bench runs is started here, through `child`.

use std::path::Path;

/// What `git -C root ARGS…` prints, or why it failed (no repository, a commit it lacks).
pub fn output<S: AsRef<str>>(root: &Path, args: &[S]) -> Result<String, String> {
    let mut argv = vec!["git".to_string(), "-C".into(), root.display().to_string()];
    argv.extend(args.iter().map(|a| a.as_ref().to_string()));
    child::output(&argv, false)
}
