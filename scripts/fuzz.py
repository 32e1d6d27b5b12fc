#!/usr/bin/env python3
"""`make fuzz`: every fuzz target for a fixed number of inputs, then the differential, and the
page results/fuzz/ from what happened.

    scripts/fuzz.py [--runs N] [--max-len BYTES] [--jobs J] [--out DIR]

The targets are coverage-guided: libFuzzer (the `libfuzzer-sys` crate), built by stable Rust
with LLVM's SanitizerCoverage flags, which stable rustc takes as -C options. No nightly, no
cargo-fuzz: the flags below are what cargo-fuzz passes, less the sanitizer (-Zsanitizer needs
nightly), with debug assertions and overflow checks on. Each target runs from its committed
corpus (fuzz/corpus/TARGET) and every input that once failed (fuzz/regressions/TARGET); at
the end the corpus is minimized again (-merge=1) so that the repository keeps only inputs
that add coverage. A crash or a hang stops the target; its input is copied to
fuzz/regressions/ so that `make test` replays it from then on, and this script exits 1.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.path.join(ROOT, "fuzz")
TRIPLE = "x86_64-unknown-linux-gnu"
TARGETS = ["response", "request", "db"]
DIFFERENTIAL = {"response", "request"}
RUSTFLAGS = " ".join(
    [
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        "--cfg fuzzing",
        "-Cdebug-assertions",
        "-Coverflow-checks",
    ]
)


def build():
    env = dict(os.environ, RUSTFLAGS=RUSTFLAGS)
    bins = [a for t in TARGETS for a in ("--bin", t)]
    # --target keeps the flags off build scripts and proc macros, which run on the host.
    subprocess.run(["cargo", "build", "--release", "--target", TRIPLE, *bins], cwd=FUZZ, env=env, check=True)
    build_verdicts()


def build_verdicts():
    plain = {k: v for k, v in os.environ.items() if k != "RUSTFLAGS"}
    subprocess.run(["cargo", "build", "--release", "--bin", "verdicts"], cwd=FUZZ, env=plain, check=True)


def stat(log, name, cast=int):
    m = re.search(rf"stat::{name}:\s+(\d+)", log)
    return cast(m.group(1)) if m else None


def fuzz(target, args, work):
    binary = os.path.join(FUZZ, "target", TRIPLE, "release", target)
    fresh = os.path.join(work, target, "new")
    os.makedirs(fresh, exist_ok=True)
    seeds = [os.path.join(FUZZ, d, target) for d in ("corpus", "regressions")]
    seeds = [d for d in seeds if os.path.isdir(d)]
    prefix = os.path.join(work, target) + "/"
    argv = [
        binary,
        f"-runs={args.runs}",
        f"-max_len={args.max_len}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={prefix}",
        fresh,
        *seeds,
    ]
    started = time.monotonic()
    run = subprocess.run(argv, capture_output=True, text=True, errors="replace")
    seconds = time.monotonic() - started
    log = run.stderr
    with open(os.path.join(work, target, "libfuzzer.log"), "w") as f:
        f.write(log)
    total = re.search(r"\((\d+) inline 8-bit counters\)", log)
    done = re.findall(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)", log)
    artifacts = [n for n in os.listdir(os.path.join(work, target)) if re.match(r"(crash|timeout|oom|leak)-", n)]
    findings = []
    for name in artifacts:
        kept = os.path.join(FUZZ, "regressions", target, f"found-{name}")
        os.makedirs(os.path.dirname(kept), exist_ok=True)
        shutil.copy(os.path.join(work, target, name), kept)
        why = re.search(r"panicked at .*\n(.*)", log)
        findings.append({"kind": name.split("-")[0], "input": os.path.relpath(kept, ROOT), "why": why.group(1) if why else ""})
    result = {
        "target": target,
        "exit_code": run.returncode,
        "inputs": stat(log, "number_of_executed_units"),
        "seconds": round(seconds, 1),
        "inputs_per_s": stat(log, "average_exec_per_sec"),
        "peak_rss_mb": stat(log, "peak_rss_mb"),
        "edges_covered": int(done[-1][1]) if done else None,
        "edges_instrumented": int(total.group(1)) if total else None,
        "features": int(done[-1][2]) if done else None,
        "crashes": sum(f["kind"] in ("crash", "oom", "leak") for f in findings),
        "hangs": sum(f["kind"] == "timeout" for f in findings),
        "findings": findings,
    }
    if run.returncode == 0:
        result["corpus"] = minimize(binary, target, fresh, args, work)
    if target in DIFFERENTIAL:
        result["differential"] = differential(target, [fresh, os.path.join(FUZZ, "corpus", target)])
    return result


def minimize(binary, target, fresh, args, work):
    """Merge the old corpus and the new inputs into the fewest that keep the coverage."""
    corpus = os.path.join(FUZZ, "corpus", target)
    merged = os.path.join(work, target, "merged")
    shutil.rmtree(merged, ignore_errors=True)
    os.makedirs(merged)
    subprocess.run([binary, "-merge=1", f"-max_len={args.max_len}", merged, corpus, fresh],
                   capture_output=True, check=True)
    shutil.rmtree(corpus)
    shutil.copytree(merged, corpus)
    return len(os.listdir(corpus))


def differential(target, dirs):
    verdicts = os.path.join(FUZZ, "target", "release", "verdicts")
    python = os.path.join(ROOT, ".venv", "bin", "python")
    out = subprocess.run([python, os.path.join(FUZZ, "differential.py"), verdicts, target, *dirs],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def page(r):
    """results/fuzz/README.md, from the report alone."""

    def n(v):
        return "—" if v is None else f"{v:,}"

    lines = [
        "# Fuzzing the parsers that read bytes from strangers",
        "",
        f"Generated by `make fuzz` (scripts/fuzz.py), last on {r['date']}, with {r['rustc']}: "
        f"{r['engine']}, {n(r['runs_asked'])} inputs asked of each target, inputs up to "
        f"{n(r['max_len'])} bytes. The properties are in fuzz/src (see its crate doc): no "
        "panic, the stated bound on bytes held, the same result whole and in any split, and "
        "accepted messages that re-encode to the same fields. `make test` replays the "
        "minimized corpus and every input in fuzz/regressions/.",
        "",
        "| target | parser | inputs | time | inputs/s | edges covered / instrumented | features | corpus kept | crashes | hangs | commit |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    parser = {
        "response": "`workload::http::ResponseParser` (any server)",
        "request": "`workload::serve::exchange` (any client)",
        "db": "`workload::db::Session` (any PostgreSQL server)",
    }
    for t in r["targets"]:
        lines.append(
            f"| `{t['target']}` | {parser[t['target']]} | {n(t['inputs'])} | {t['seconds']:.0f} s | "
            f"{n(t['inputs_per_s'])} | {n(t['edges_covered'])} / {n(t['edges_instrumented'])} | "
            f"{n(t['features'])} | {n(t.get('corpus'))} | {t['crashes']} | {t['hangs']} | {t.get('commit', '—')} |"
        )
    lines += [
        "",
        "Edges instrumented count every branch of every crate the target links (workload, "
        "httparse, postgres-protocol, serde_json …), most of which no input of one parser can "
        "reach; the covered count is what to compare between runs.",
        "",
        "## Differential: h11",
        "",
        "Every input the fuzzer kept (the new ones of this run and the committed corpus) is "
        "parsed again by [h11](https://github.com/python-hyper/h11), an independent HTTP/1.1 "
        "implementation in Python (fuzz/differential.py): a client's view of the response, a "
        "server's view of the request. They must agree on accept or reject, the status, the "
        "body, the route, keep-alive, the version and the request's length. A difference the "
        "contract chooses is *known*, with its reason; any other is *open*. The db target has "
        "no differential: no independent parser of PostgreSQL's backend messages runs in "
        "process here (psycopg hands them to libpq, asyncpg to its own Cython).",
        "",
        "| target | inputs compared | agree | known | open |",
        "|---|--:|--:|--:|--:|",
    ]
    reasons = {}
    for t in r["targets"]:
        d = t.get("differential")
        if d:
            lines.append(f"| `{t['target']}` | {n(d['inputs'])} | {n(d['agree'])} | {n(d['known'])} | {n(d['open'])} |")
            for k, v in d["known_by_reason"].items():
                reasons.setdefault(k, [d["reasons"][k], {}])[1][t["target"]] = v
    lines += ["", "| known difference | inputs | why |", "|---|--:|---|"]
    for k, (why, counts) in sorted(reasons.items()):
        where = ", ".join(f"{c:,} {t}" for t, c in counts.items())
        lines.append(f"| {k} | {where} | {why} |")
    opens = [e for t in r["targets"] for e in (t.get("differential") or {}).get("open_examples", [])]
    if opens:
        lines += ["", "Open differences (first inputs):", ""]
        lines += [f"- `{e['file']}`: ours {json.dumps(e['ours'])}, h11 {json.dumps(e['h11'])}" for e in opens]
    lines += [
        "",
        "## What was found, and fixed",
        "",
        "Every input here is in fuzz/regressions/ and replayed by `make test`; the parser's "
        "fixes also have unit tests (`what_the_fuzzers_found_is_refused` in workload::http).",
        "",
        "| target | found by | what | fix | where |",
        "|---|---|---|---|---|",
    ]
    for h in r["history"]:
        lines.append(f"| {h['target']} | {h['how']} | {h['what']} | {h['fix']} | {h['where']} |")
    this_run = [f for t in r["targets"] for f in t["findings"]]
    lines += ["", f"This run's findings: {len(this_run)}."]
    lines += [f"- {f['kind']} in `{f['input']}`: {f['why']}" for f in this_run]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10_000_000, help="inputs per target")
    p.add_argument("--max-len", type=int, default=20_480, help="longest input, bytes")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="targets at once")
    p.add_argument("--out", default=os.path.join(ROOT, "results", "fuzz"))
    p.add_argument("--targets", default=",".join(TARGETS),
                   help="which targets, comma-separated; the others' figures are kept from the last run")
    p.add_argument("--adopt", metavar="FUZZ_JSON",
                   help="take the --targets' figures from another run's fuzz.json instead of running them")
    p.add_argument("--differential", action="store_true",
                   help="run no fuzzer: keep the --targets' figures from the last run, and hold the "
                   "inputs it kept (the committed corpus, and its new inputs if still in "
                   "results/tmp/fuzz) against h11 again, as fuzz/differential.py now classifies them")
    args = p.parse_args()
    targets = args.targets.split(",")
    if not targets or any(t not in TARGETS for t in targets):
        sys.exit(f"fuzz.py: --targets takes {', '.join(TARGETS)}")
    if args.runs < 1 or args.max_len < 2 or args.jobs < 1:
        sys.exit("fuzz.py: --runs, --max-len and --jobs must be positive")
    work = os.path.join(ROOT, "results", "tmp", "fuzz")
    if args.differential:
        build_verdicts()
        with open(os.path.join(args.out, "fuzz.json")) as f:
            last = {r["target"]: r for r in json.load(f)["targets"] if r["target"] in targets}

        def again(t):
            r = dict(last[t])
            if t in DIFFERENTIAL:
                dirs = [d for d in (os.path.join(work, t, "new"), os.path.join(FUZZ, "corpus", t))
                        if os.path.isdir(d)]
                r["differential"] = differential(t, dirs)
            return r
        run_targets = lambda: [again(t) for t in targets]  # noqa: E731
    elif args.adopt:
        # Take these targets' figures from a run made elsewhere (another core, say): run nothing.
        with open(args.adopt) as f:
            adopted = {r["target"]: r for r in json.load(f)["targets"] if r["target"] in targets}
        if set(adopted) != set(targets):
            sys.exit(f"fuzz.py: {args.adopt} lacks {', '.join(set(targets) - set(adopted))}")
        run_targets = lambda: [adopted[t] for t in targets]  # noqa: E731
    else:
        build()
        for t in targets:
            shutil.rmtree(os.path.join(work, t), ignore_errors=True)
        run_targets = None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    # Whether the code the targets measure was as committed (`bench results` reads it).
    measured = ["crates/workload/src/http.rs", "crates/workload/src/serve", "fuzz/src", "fuzz/fuzz_targets"]
    changed = subprocess.run(["git", "status", "--porcelain", "--", *measured], cwd=ROOT, capture_output=True, text=True).stdout
    tree = "clean" if not changed.strip() else f"{len(changed.splitlines())} files of the measured code changed"
    if run_targets:
        results = run_targets()
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda t: dict(fuzz(t, args, work), commit=commit), targets))
    # The targets not run this time keep their last figures, each with its own commit.
    try:
        with open(os.path.join(args.out, "fuzz.json")) as f:
            kept = {r["target"]: r for r in json.load(f)["targets"] if r["target"] not in targets}
    except (OSError, ValueError, KeyError):
        kept = {}
    ran = {r["target"]: r for r in results}
    results_all = [ran.get(t) or kept.get(t) for t in TARGETS if ran.get(t) or kept.get(t)]
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    with open(os.path.join(FUZZ, "regressions", "findings.json")) as f:
        history = json.load(f)
    report = {
        "date": datetime.date.today().isoformat(),
        # The commit every target ran at, and its tree, when this run ran them all; else
        # each target's own commit says when it ran.
        **({"commit": commit, "tree": tree} if not kept else {}),
        "rustc": rustc,
        "engine": "libFuzzer (libfuzzer-sys 0.4), coverage-guided, stable Rust with SanitizerCoverage",
        "runs_asked": args.runs,
        "max_len": args.max_len,
        "targets": results_all,
        "history": history,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "fuzz.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(page(report))
    failed = [r["target"] for r in results_all if r["exit_code"] != 0 or (r.get("differential") or {}).get("open")]
    if failed:
        sys.exit(f"fuzz.py: {', '.join(failed)} failed: see {args.out}/README.md and fuzz/regressions/")
    print(f"fuzz.py: {len(results)} targets, 0 failed; {args.out}/README.md")


if __name__ == "__main__":
    main()
