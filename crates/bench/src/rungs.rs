//! A ladder's rungs as `ring` names them: the server's (`serve::ladder`) and the http
//! client's (`client_ladder`). bench passes a rung's name in an environment variable; a name
//! the program does not know makes it refuse to start, so the tests hold bench's lists to the
//! source that declares the rungs.

/// The source `file` (under `crates/`) declares every one of `rungs` by name, and `default`
/// as `BEST` of enum `kind`.
#[cfg(test)]
pub fn assert_declared(file: &str, kind: &str, rungs: &[&str], default: &str) {
    let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).expect("the file that declares the rungs");
    for rung in rungs {
        assert!(source.contains(&format!("=> \"{rung}\"")), "{rung} is not a rung of {file}");
    }
    let camel: String = default.split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect();
    let best = format!("BEST: {kind} = {kind}::{camel};");
    assert!(source.contains(&best), "BEST is not {default} in {file}");
}
