//! Every committed input, through every property, in `make test`: the minimized corpus of
//! each target, and `regressions/`, which keeps every input that once failed.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for folder in ["corpus", "regressions"] {
        let dir = root.join(folder).join(target);
        if folder == "regressions" && !dir.exists() {
            continue; // nothing has failed yet
        }
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("readable");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{} fails again", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no input for {target}: the corpus is committed with the targets");
}

#[test]
fn response_corpus_and_regressions_hold() {
    replay("response", conclab_fuzz::response::check);
}

#[test]
fn request_corpus_and_regressions_hold() {
    replay("request", conclab_fuzz::request::check);
}

#[test]
fn db_corpus_and_regressions_hold() {
    replay("db", conclab_fuzz::db::check);
}
