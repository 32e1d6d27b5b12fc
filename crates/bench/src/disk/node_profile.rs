//! Where Node's main thread spends a disk run at W = 4, by Node's own profiler: `node
//! --cpu-prof` writes V8's samples of the main thread, each with the JavaScript frame it hit
//! (or "(idle)" while libuv waits, "(garbage collector)", "(program)" for native code). The
//! samples' time is summed by what they were in: waiting for the pool, `fs.promises`'
//! machinery, the garbage collector, the peer's own JavaScript, and the rest of Node. It says
//! whether Node's one loop is busy enough to be what its reads wait for.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Program;

/// The program profiled, the depth, and the reads of its run.
pub const PROGRAM: &str = "node-promises";
pub const DEPTH: u32 = 4;
const READS: u32 = 50_000;

/// What a sample of the main thread was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum In {
    /// libuv waiting in epoll for the pool's results: the loop has nothing to do.
    Idle,
    /// `node:internal/fs/promises`: a FileHandle read's promise, its request and its result.
    FsPromises,
    GarbageCollector,
    /// The peer's own scripts: the tasks, the tally, the report.
    Peer,
    /// Every other frame: Node's other internals, native code, the module loader.
    RestOfNode,
}

impl In {
    pub fn words(self) -> &'static str {
        match self {
            In::Idle => "waiting for the pool's results",
            In::FsPromises => "`fs.promises`' machinery",
            In::GarbageCollector => "collecting garbage",
            In::Peer => "the peer's own JavaScript",
            In::RestOfNode => "the rest of Node",
        }
    }
}

/// The main thread's time in one run, and its share in each [`In`].
#[derive(Clone, Serialize, Deserialize)]
pub struct Profile {
    pub total_ms: f64,
    pub shares: Vec<(In, f64)>,
}

impl Profile {
    pub fn share(&self, of: In) -> f64 {
        self.shares.iter().find(|(i, _)| *i == of).map_or(0.0, |(_, s)| *s)
    }
}

/// V8's `.cpuprofile`: a tree of frames, and which frame each sample hit, with the time
/// since the sample before it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CpuProfile {
    nodes: Vec<Node>,
    samples: Vec<u64>,
    time_deltas: Vec<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    id: u64,
    call_frame: CallFrame,
    #[serde(default)]
    children: Vec<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallFrame {
    function_name: String,
    url: String,
}

/// The profile's samples, summed by what each was in: its own frame's kind, else the nearest
/// frame above it with a script.
pub fn read(text: &str) -> anyhow::Result<Profile> {
    let p: CpuProfile = serde_json::from_str(text)?;
    let nodes: HashMap<u64, &Node> = p.nodes.iter().map(|n| (n.id, n)).collect();
    let parent: HashMap<u64, u64> =
        p.nodes.iter().flat_map(|n| n.children.iter().map(move |c| (*c, n.id))).collect();
    let kind = |id: u64| -> In {
        let frame = &nodes[&id].call_frame;
        match frame.function_name.as_str() {
            "(idle)" => return In::Idle,
            "(garbage collector)" => return In::GarbageCollector,
            _ => {}
        }
        let mut at = Some(id);
        while let Some(node) = at.and_then(|i| nodes.get(&i)) {
            let url = &node.call_frame.url;
            if url.contains("internal/fs/promises") {
                return In::FsPromises;
            }
            if url.contains("/peers/") {
                return In::Peer;
            }
            if !url.is_empty() {
                return In::RestOfNode;
            }
            at = parent.get(&node.id).copied();
        }
        In::RestOfNode
    };
    let mut time: HashMap<In, f64> = HashMap::new();
    for (sample, delta) in p.samples.iter().zip(&p.time_deltas) {
        if nodes.contains_key(sample) {
            *time.entry(kind(*sample)).or_default() += (*delta).max(0) as f64 / 1000.0;
        }
    }
    let total_ms: f64 = time.values().sum();
    anyhow::ensure!(total_ms > 0.0, "the profile holds no samples");
    let order = [In::Idle, In::FsPromises, In::GarbageCollector, In::Peer, In::RestOfNode];
    let shares =
        order.iter().map(|i| (*i, time.get(i).copied().unwrap_or(0.0) / total_ms)).collect();
    Ok(Profile { total_ms, shares })
}

/// Node's run at [`DEPTH`] under its profiler, if it runs here.
pub fn measure(programs: &[Program], file: &Path) -> Result<Profile, String> {
    let p = programs.iter().find(|p| p.name == PROGRAM).ok_or("not in the roster")?;
    if let Some(why) = &p.missing {
        return Err(why.clone());
    }
    super::page_cache(file, false).map_err(|e| format!("{e:#}"))?;
    let dir = std::env::temp_dir().join(format!("conclab-cpu-prof-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // The profiler's flags go to node itself, before the script.
    let mut argv = vec![p.argv[0].clone(), "--cpu-prof".into(), "--cpu-prof-dir".into()];
    argv.push(dir.display().to_string());
    argv.extend(p.argv[1..].iter().cloned());
    let (reads, depth) = (READS.to_string(), DEPTH.to_string());
    let file = file.display().to_string();
    argv.extend(
        ["--workload", "disk", "--tasks", &reads, "--workers", &depth, "--file", &file]
            .map(String::from),
    );
    let limit = Duration::from_secs(120);
    let ran = child::run_argv(&argv, &[], limit).map_err(|e| format!("cannot run node: {e}"))?;
    let profile = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "cpuprofile"))
        .ok_or_else(|| format!("no profile written: {}", ran.outcome(limit)))
        .and_then(|e| std::fs::read_to_string(e.path()).map_err(|e| e.to_string()));
    let _ = std::fs::remove_dir_all(&dir);
    read(&profile?).map_err(|e| format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_count_for_what_they_were_in() {
        let profile = r#"{"nodes": [
            {"id": 1, "callFrame": {"functionName": "(root)", "url": ""}, "children": [2, 3, 4, 5]},
            {"id": 2, "callFrame": {"functionName": "(idle)", "url": ""}},
            {"id": 3, "callFrame": {"functionName": "read", "url": "node:internal/fs/promises"}, "children": [6]},
            {"id": 4, "callFrame": {"functionName": "(garbage collector)", "url": ""}},
            {"id": 5, "callFrame": {"functionName": "task", "url": "file:///x/scripts/peers/node_disk.mjs"}},
            {"id": 6, "callFrame": {"functionName": "", "url": ""}}
        ], "samples": [2, 2, 3, 6, 4, 5, 1], "timeDeltas": [1000, 1000, 1000, 1000, 1000, 1000, 2000]}"#;
        let p = read(profile).expect("a profile");
        assert_eq!(p.total_ms, 8.0);
        assert_eq!(p.share(In::Idle), 0.25);
        assert_eq!(p.share(In::FsPromises), 0.25, "a native frame under fs.promises counts there");
        assert_eq!(p.share(In::GarbageCollector), 0.125);
        assert_eq!(p.share(In::Peer), 0.125);
        assert_eq!(p.share(In::RestOfNode), 0.25);
    }
}
