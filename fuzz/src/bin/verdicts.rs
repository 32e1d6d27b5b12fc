//! `verdicts TARGET FILE...`: what our parser makes of each file, one JSON line each, for
//! `differential.py` to hold against h11. Every file's first byte is the split seed, as in
//! the corpus, and is skipped.

use conclab_fuzz::{request, response};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((target, files)) = args.split_first() else {
        eprintln!("usage: verdicts response|request FILE...");
        std::process::exit(2);
    };
    let verdict: fn(&[u8]) -> serde_json::Value = match target.as_str() {
        "response" => response::verdict,
        "request" => request::verdict,
        other => {
            eprintln!("verdicts: no differential for target {other:?}: response or request");
            std::process::exit(2);
        }
    };
    for file in files {
        let data = std::fs::read(file).unwrap_or_else(|e| {
            eprintln!("verdicts: {file}: {e}");
            std::process::exit(1);
        });
        let payload = data.get(1..).unwrap_or_default();
        println!("{}", serde_json::json!({ "file": file, "ours": verdict(payload) }));
    }
}
