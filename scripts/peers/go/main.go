// go-goroutines: the conclab contract in Go — one goroutine per task, or a pool of W.
//
// Goroutines are the model no Rust binary here has: stackful green threads, each with its
// own small growable stack, multiplexed M:N onto a few OS threads by Go's scheduler.
// A blocking call inside one parks the goroutine, not the thread: sleeps go to the runtime's
// timers, sockets to its netpoller (epoll), and cpu work runs on GOMAXPROCS threads, one per
// core by default. It speaks CONTRACT.md exactly as the Python peers do. Built from the
// standard library alone (`make peers`, GOTOOLCHAIN=local, no module downloads).
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// mostMs is the longest wait --ms and --timeout-ms take: a day.
const mostMs = 86_400_000

// admitTasks refuses a run whose per-task records (perTask bytes each) need more than the
// machine's memory and swap: exit 1, naming memory as the limit, where Go would die of
// "fatal error: runtime: out of memory" with every goroutine's stack.
func admitTasks(tasks, perTask int) {
	info, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return
	}
	total := 0
	for _, line := range strings.Split(string(info), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && (fields[0] == "MemTotal:" || fields[0] == "SwapTotal:") {
			kib, _ := strconv.Atoi(fields[1])
			total += kib << 10
		}
	}
	if need := tasks * perTask; total > 0 && need > total {
		fmt.Fprintf(os.Stderr, "Error: %d tasks' results need %d bytes, more than this machine's memory and swap (%d bytes) — limit to raise: memory, or fewer --tasks\n", tasks, need, total)
		os.Exit(1)
	}
}

// admitConnections refuses, before any opens, a pool of n db connections that RLIMIT_NOFILE
// cannot hold (a descriptor each; Go raises the soft limit to the hard one at start): exit
// 1, naming the limit and what to raise it to, as the Rust models do.
func admitConnections(n int) {
	var limit syscall.Rlimit
	open, err := os.ReadDir("/proc/self/fd")
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit) != nil || err != nil {
		return
	}
	inUse := len(open) + 64 // and a margin for its own files
	if room := int(limit.Cur) - inUse; n > room {
		fmt.Fprintf(os.Stderr, "Error: %d db connections (--workers) cannot start: %d more fit under the limit — limit to raise: RLIMIT_NOFILE (`ulimit -n` = %d; %d descriptors open), to at least %d\n",
			n, max(room, 0), limit.Cur, len(open), inUse+n)
		os.Exit(1)
	}
}

// mostWorkers is the largest --workers: PID_MAX_LIMIT, the most threads or processes Linux
// can run, whatever its settings.
const mostWorkers = 4_194_304

const usage = "Usage: go-goroutines [--workload sleep|http|cpu|disk|brigade|db|crawl] [--tasks N] [--ms MS] [--work K] " +
	"[--seed URL]... [--allow ORIGIN]... [--per-host C] " +
	"[--addr HOST:PORT] [--workers W] [--timeout-ms T] [--file PATH] [--file-size SIZE] [--bytes B] " +
	"[--buffered] [--write] [--laps L] [--db-url URL] [--rows R] [--serve HOST:PORT] [--timeline FILE] [--json] [--verbose]"

type args struct {
	workload                 string
	tasks, ms, work, workers int
	timeoutMs                int
	addr, serve, timeline    string
	json, verbose            bool
	file                     string
	laps                     int
	fileSize, bytes          uint64
	buffered, write          bool
	disk                     *dataFile
	db                       *dbURL
	rows                     int
	dbPool                   dbPool
	seeds, allow             []string
	perHost                  int
	crawl                    *crawler
}

// fileSizeOr is --file-size, or the 1 GiB a data file is made with by default.
func (a *args) fileSizeOr() uint64 {
	if a.fileSize != 0 {
		return a.fileSize
	}
	return 1 << 30
}

// parseArgs reads the contract's flags; bad input is a one-line reason, the usage, exit 2.
func parseArgs() args {
	var a args
	fs := flag.NewFlagSet("go-goroutines", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.workload, "workload", "sleep", "")
	tasks := fs.String("tasks", "10", "")
	ms := fs.String("ms", "1000", "")
	work := fs.String("work", "100000", "")
	fs.StringVar(&a.addr, "addr", "127.0.0.1:7878", "")
	fs.StringVar(&a.serve, "serve", "", "")
	fs.StringVar(&a.timeline, "timeline", "", "")
	workers := fs.String("workers", "", "")
	timeout := fs.String("timeout-ms", "30000", "")
	offload := fs.Bool("offload", false, "")
	fs.BoolVar(&a.json, "json", false, "")
	fs.BoolVar(&a.verbose, "verbose", false, "")
	fs.StringVar(&a.file, "file", "", "")
	fileSize := fs.String("file-size", "", "")
	bytes := fs.String("bytes", "4096", "")
	fs.BoolVar(&a.buffered, "buffered", false, "")
	fs.BoolVar(&a.write, "write", false, "")
	laps := fs.String("laps", "100", "")
	dbURLText := fs.String("db-url", "", "")
	rows := fs.String("rows", "100000", "")
	var seeds, allow stringList
	fs.Var(&seeds, "seed", "")
	fs.Var(&allow, "allow", "")
	perHost := fs.String("per-host", "6", "")
	version := fs.Bool("version", false, "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		reject(err.Error())
	}
	if *version {
		fmt.Printf("go-goroutines (%s)\n", runtime.Version())
		os.Exit(0)
	}
	fs.Visit(func(f *flag.Flag) {
		if why := applies(f.Name, a.workload, a.serve != ""); why != "" {
			reject(why)
		}
	})
	if *fileSize != "" {
		a.fileSize = parseSize("file-size", *fileSize)
	}
	if a.bytes = parseSize("bytes", *bytes); a.bytes > 1<<30 {
		reject(fmt.Sprintf("--bytes: %d is over 1 GiB", a.bytes))
	}
	if fs.NArg() > 0 {
		reject(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	number := func(name, text string, min int) int {
		v, err := strconv.Atoi(text)
		if errors.Is(err, strconv.ErrRange) {
			if strings.HasPrefix(text, "-") {
				reject(fmt.Sprintf("--%s: %s is below %d", name, text, min))
			}
			reject(fmt.Sprintf("--%s: %s is above %d", name, text, math.MaxInt))
		}
		if err != nil {
			reject(fmt.Sprintf("--%s: %q is not a whole number", name, text))
		}
		if v < min {
			reject(fmt.Sprintf("--%s: %d is below %d", name, v, min))
		}
		return v
	}
	// --ms and --timeout-ms: at most a day, as the Rust models take them.
	millis := func(name, text string, min int) int {
		v := number(name, text, min)
		if v > mostMs {
			reject(fmt.Sprintf("--%s: %d is above %d (a day)", name, v, mostMs))
		}
		return v
	}
	tasksGiven := false
	fs.Visit(func(f *flag.Flag) { tasksGiven = tasksGiven || f.Name == "tasks" })
	if a.workload == "crawl" && !tasksGiven {
		*tasks = strconv.Itoa(crawlTasks)
	}
	a.tasks, a.ms, a.work = number("tasks", *tasks, 1), millis("ms", *ms, 0), number("work", *work, 0)
	a.perHost = number("per-host", *perHost, 1)
	a.timeoutMs = millis("timeout-ms", *timeout, 1)
	a.laps = number("laps", *laps, 1)
	if a.rows = number("rows", *rows, 1); a.rows > math.MaxInt32 {
		reject(fmt.Sprintf("--rows: %d is above %d (items.id is an int)", a.rows, math.MaxInt32))
	}
	if *workers != "" {
		a.workers = number("workers", *workers, 1)
		if a.workers > mostWorkers {
			reject(fmt.Sprintf("--workers: %d is above %d (PID_MAX_LIMIT, the most threads or processes Linux can run)", a.workers, mostWorkers))
		}
		if a.serve == "" && a.workers > a.tasks {
			a.workers = a.tasks // never more workers than there are tasks to run
		}
	}
	switch a.workload {
	case "sleep", "http", "cpu", "disk", "brigade", "db", "crawl":
	default:
		reject(fmt.Sprintf("--workload: %q is not one of sleep, http, cpu, disk, brigade, db, crawl", a.workload))
	}
	if a.workload == "crawl" && a.serve == "" {
		a.seeds, a.allow = parseScope(seeds, allow)
	}
	if a.workload == "db" && a.serve == "" {
		// Parsed here rather than by the flag package, so that no reason quotes a password.
		if *dbURLText == "" {
			*dbURLText = defaultDbURL()
		}
		var why string
		if a.db, why = parseDbURL(*dbURLText); why != "" {
			reject("--db-url: " + why)
		}
		if a.workers > 0 {
			admitConnections(a.workers)
		}
	}
	if a.workload == "brigade" && a.workers > 0 {
		reject("--workers does not apply to the brigade: every task of the ring runs at once")
	}
	if _, _, err := net.SplitHostPort(a.addr); err != nil {
		reject(fmt.Sprintf("--addr: %q is not HOST:PORT", a.addr))
	}
	if a.serve != "" {
		if _, _, err := net.SplitHostPort(a.serve); err != nil {
			reject(fmt.Sprintf("--serve: %q is not HOST:PORT", a.serve))
		}
	}
	if *offload {
		reject("--offload: goroutines have no event loop to offload from; they already run on every core")
	}
	// Nothing is written until every argument is accepted.
	if a.timeline != "" {
		f, err := os.Create(a.timeline)
		if err != nil {
			reject(fmt.Sprintf("--timeline: cannot write %s", a.timeline))
		}
		f.Close()
	}
	return a
}

// applies says why a flag given does not apply to the mode chosen (a run of one workload,
// or --serve), or "" when it does; the rules are the Rust models' (CONTRACT.md).
func applies(name, workload string, serving bool) string {
	type rule struct {
		fits    func(string) bool
		serve   bool
		belongs string
	}
	any := func(string) bool { return true }
	is := func(ws ...string) func(string) bool {
		return func(w string) bool {
			for _, x := range ws {
				if w == x {
					return true
				}
			}
			return false
		}
	}
	disk := rule{is("disk"), false, "to the disk workload"}
	rules := map[string]rule{
		"tasks":      {any, false, "to running tasks"},
		"workload":   {any, false, "to running tasks"},
		"timeline":   {any, false, "to running tasks: it records each task's span"},
		"verbose":    {any, false, "to running tasks: it names each finished task"},
		"ms":         {is("sleep", "http", "db"), false, "to the sleep, http and db workloads"},
		"work":       {is("cpu"), false, "to the cpu workload (a server's /cpu takes work=K)"},
		"addr":       {is("http"), false, "to the http workload"},
		"timeout-ms": {is("http", "db", "crawl"), true, "to the http, db and crawl workloads and --serve"},
		"seed":       {is("crawl"), false, "to the crawl workload"},
		"allow":      {is("crawl"), false, "to the crawl workload"},
		"per-host":   {is("crawl"), false, "to the crawl workload"},
		"file":       disk, "file-size": disk, "bytes": disk, "buffered": disk,
		"write":  {is("disk", "db"), false, "to the disk and db workloads"},
		"db-url": {is("db"), false, "to the db workload"},
		"rows":   {is("db"), false, "to the db workload"},
		"laps":   {is("brigade"), false, "to the brigade workload"},
	}
	r, ok := rules[name]
	if !ok || (serving && r.serve) || (!serving && r.fits(workload)) {
		return ""
	}
	mode := "the " + workload + " workload"
	if serving {
		mode = "--serve"
	}
	return fmt.Sprintf("--%s does not apply to %s: it belongs %s", name, mode, r.belongs)
}

func reject(reason string) {
	// An argument with an '@' that the reason echoes may hold a password: it is shown masked.
	for _, arg := range os.Args[1:] {
		if strings.Contains(arg, "@") {
			reason = strings.ReplaceAll(reason, arg, mask(arg))
		}
	}
	fmt.Fprintf(os.Stderr, "Error: %s\n\n%s\n", reason, usage)
	os.Exit(2)
}

// result is one finished task: its value or error, when it finished, and on which thread.
type result struct {
	id       int
	value    uint64
	err      error
	started  time.Time
	finished time.Time
	tid      int
}

// runTask runs task id on the calling goroutine, blocking it (but not its thread).
func runTask(a *args, client *http.Client, id int) result {
	started := time.Now()
	var value uint64
	var err error
	switch a.workload {
	case "sleep":
		time.Sleep(time.Duration(a.ms) * time.Millisecond)
		value = uint64(id) + 100
	case "http":
		value, err = get(a, client, id)
	case "cpu":
		value = sha256Chain(id, a.work)
	case "disk":
		value, err = a.disk.task(id)
	case "db":
		value, err = dbTask(a, a.dbPool, id)
	}
	r := result{id: id, value: value, err: err, started: started, finished: time.Now()}
	if a.verbose || a.timeline != "" {
		// Which OS thread the goroutine finished on: asked only when it is printed, for it
		// costs a system call.
		r.tid = syscall.Gettid()
	}
	return r
}

func sha256Chain(id, rounds int) uint64 {
	h := make([]byte, 8, 32)
	binary.BigEndian.PutUint64(h, uint64(id))
	for i := 0; i < rounds; i++ {
		sum := sha256.Sum256(h)
		h = sum[:]
	}
	return binary.BigEndian.Uint64(h[:8])
}

// get is one GET /query on a fresh connection (keep-alive off), bounded by --timeout-ms.
// net/http reads every body framing HTTP/1.1 allows, chunked included.
func get(a *args, client *http.Client, id int) (uint64, error) {
	url := fmt.Sprintf("http://%s/query?id=%d&delay_ms=%d", a.addr, id, a.ms)
	resp, err := client.Get(url)
	if err != nil {
		return 0, httpError(a, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64*1024+1))
	if err != nil {
		return 0, httpError(a, err)
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("the service answered HTTP %d", resp.StatusCode)
	}
	var answer struct{ Value *uint64 }
	if json.Unmarshal(body, &answer) != nil || answer.Value == nil {
		return 0, errors.New("malformed response: body is not the expected JSON")
	}
	return *answer.Value, nil
}

// httpError says what went wrong the contract's way: what to do about it, or the limit.
func httpError(a *args, err error) error {
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connection refused to %s (is the service running? `make service`)", a.addr)
	case errors.Is(err, syscall.EMFILE):
		return fmt.Errorf("%v — limit to raise: RLIMIT_NOFILE (`ulimit -n`)", err)
	case errors.Is(err, syscall.EAGAIN):
		return fmt.Errorf("%v — limit to raise: the ephemeral ports: net.ipv4.ip_local_port_range (or fewer connections at once)", err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("the request timed out after %d ms (--timeout-ms)", a.timeoutMs)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return errors.New("truncated response: the connection closed before it was complete")
	}
	return err
}

func main() {
	a := parseArgs()
	if a.serve != "" {
		os.Exit(serve(&a))
	}
	if a.workload == "disk" {
		var err error
		if a.disk, err = openData(&a); err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			os.Exit(1)
		}
	}
	if a.workload == "crawl" {
		c, wall := crawl(&a)
		workers := a.workers
		if workers == 0 {
			workers = defaultWorkers
		}
		a.crawl = c
		os.Exit(report(&a, c.results, time.Now().Add(-wall), wall, workers, workers))
	}
	a.dbPool = newDbPool(&a)
	client := &http.Client{
		Timeout:   time.Duration(a.timeoutMs) * time.Millisecond,
		Transport: &http.Transport{DisableKeepAlives: true, MaxIdleConnsPerHost: -1},
	}
	workers, concurrency := a.tasks, a.tasks
	if a.workers > 0 {
		workers, concurrency = a.workers, a.workers
	}
	// A result and a channel slot a task: an allocation the machine cannot give is a fatal
	// error Go cannot recover from, so it is checked first.
	admitTasks(a.tasks, 2*int(unsafe.Sizeof(result{})))
	results := make([]result, a.tasks)
	start := time.Now()
	done := make(chan result, a.tasks)
	if a.workload == "brigade" {
		results = brigade(&a)
		os.Exit(report(&a, results, start, time.Since(start), workers, concurrency))
	}
	if a.workers == 0 {
		// One goroutine per task; results are collected in task order below.
		for id := 0; id < a.tasks; id++ {
			go func(id int) { done <- runTask(&a, client, id) }(id)
		}
	} else {
		// A pool: W goroutines taking task ids from a channel.
		ids := make(chan int, a.tasks)
		for id := 0; id < a.tasks; id++ {
			ids <- id
		}
		close(ids)
		for w := 0; w < a.workers; w++ {
			go func() {
				for id := range ids {
					done <- runTask(&a, client, id)
				}
			}()
		}
	}
	for i := 0; i < a.tasks; i++ {
		r := <-done
		results[r.id] = r
	}
	wall := time.Since(start)
	os.Exit(report(&a, results, start, wall, workers, concurrency))
}

// report prints the contract's report and returns the exit status.
func report(a *args, results []result, start time.Time, wall time.Duration, workers, concurrency int) int {
	var ok, failed int
	var checksum uint64
	var firstError error
	var finished, latency []float64
	for _, r := range results {
		at := r.finished.Sub(start).Seconds()
		if r.err != nil {
			failed++
			if firstError == nil {
				firstError = r.err
			}
			if a.verbose {
				fmt.Fprintf(os.Stderr, "task %d failed: %v · pid %d tid %d · at %.4f s\n", r.id, r.err, os.Getpid(), r.tid, at)
			}
			continue
		}
		ok++
		checksum += r.value
		finished = append(finished, at)
		latency = append(latency, float64(r.finished.Sub(r.started).Nanoseconds())/1e6)
		if a.verbose {
			fmt.Fprintf(os.Stderr, "task %d value %d · pid %d tid %d · at %.4f s\n", r.id, r.value, os.Getpid(), r.tid, at)
		}
	}
	if a.timeline != "" {
		if err := writeTimeline(a.timeline, results, start); err != nil {
			fmt.Fprintf(os.Stderr, "Error: cannot write the timeline to %s: %v\n", a.timeline, err)
			return 1
		}
	}
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	seconds := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	timed := a.workload == "sleep" || a.workload == "http"
	var ideal, ms, work, lateness, iops, latencyMs, qps any
	if a.workload == "db" {
		ms, qps = a.ms, float64(ok)/wall.Seconds()
		if a.ms > 0 { // ceil(N / W) rounds of --ms, W the pool or every task
			ideal = math.Ceil(float64(a.tasks)/float64(concurrency)) * float64(a.ms) / 1000
		}
	}
	if a.workload == "disk" {
		iops = float64(ok) / wall.Seconds()
		latencyMs = percentiles(latency)
	}
	if a.workload == "cpu" {
		work = a.work
	}
	if timed {
		ideal = math.Ceil(float64(a.tasks)/float64(concurrency)) * float64(a.ms) / 1000
		ms = a.ms
		lateness = latenessMs(finished, concurrency, float64(a.ms)/1000)
	}
	var firstErrorText any
	if firstError != nil {
		firstErrorText = firstError.Error()
	}
	tasks := a.tasks
	if a.crawl != nil {
		tasks = a.crawl.requested
	}
	r := map[string]any{
		"model": "go-goroutines", "workload": a.workload, "tasks": tasks, "workers": workers,
		"concurrency": concurrency, "ms": ms, "work": work, "offload": false,
		"ok": ok, "failed": failed, "checksum": checksum, "wall_s": wall.Seconds(), "ideal_s": ideal,
		"user_s": seconds(self.Utime) + seconds(kids.Utime), "sys_s": seconds(self.Stime) + seconds(kids.Stime),
		"max_rss_kib": self.Maxrss, "children_max_rss_kib_sum": 0,
		"voluntary_ctx_switches": self.Nvcsw + kids.Nvcsw, "involuntary_ctx_switches": self.Nivcsw + kids.Nivcsw,
		"lateness_ms": lateness, "loop_lag_ms": nil, "first_error": firstErrorText,
		"peak_threads": threadsMade(), "iops": iops, "latency_ms": latencyMs, "qps": qps,
	}
	if a.crawl != nil {
		r["crawl"] = a.crawl.report(wall)
	}
	if a.workload == "brigade" {
		h := float64(a.tasks) * float64(a.laps)
		r["laps"], r["handoffs"], r["ns_per_handoff"] = a.laps, uint64(h), float64(wall.Nanoseconds())/h
		r["voluntary_per_handoff"] = float64(self.Nvcsw+kids.Nvcsw) / h
		r["involuntary_per_handoff"] = float64(self.Nivcsw+kids.Nivcsw) / h
		r["user_ns_per_handoff"] = (seconds(self.Utime) + seconds(kids.Utime)) * 1e9 / h
		r["sys_ns_per_handoff"] = (seconds(self.Stime) + seconds(kids.Stime)) * 1e9 / h
	}
	if a.json {
		line, _ := json.Marshal(r)
		fmt.Println(string(line))
	} else {
		noun := "tasks"
		if tasks == 1 {
			noun = "task"
		}
		line := fmt.Sprintf("go-goroutines · %s · %d %s · %.4f s", a.workload, tasks, noun, wall.Seconds())
		if ideal != nil {
			line += fmt.Sprintf(" (ideal %.4f s)", ideal)
		}
		line += fmt.Sprintf(" · peak RSS %.1f MiB", float64(self.Maxrss)/1024)
		if ns, ok := r["ns_per_handoff"].(float64); ok {
			line += fmt.Sprintf(" · %.0f ns a hand-off", ns)
		}
		if p, ok := latencyMs.(map[string]float64); ok {
			line += fmt.Sprintf(" · %.0f IOPS, p50 %.3f ms, p99 %.3f ms", iops, p["p50"], p["p99"])
		}
		if q, ok := qps.(float64); ok {
			line += fmt.Sprintf(" · %.0f queries/s", q)
		}
		if a.crawl != nil {
			line += crawlLine(r["crawl"].(map[string]any))
		}
		line += fmt.Sprintf(" · checksum %d", checksum)
		if failed > 0 {
			line += fmt.Sprintf(" · %d failed", failed)
		}
		fmt.Println(line)
	}
	if a.crawl != nil {
		if fatal := a.crawl.fatal(firstError); fatal != nil {
			fmt.Fprintf(os.Stderr, "Error: the crawl failed: %v\n", fatal)
			return 1
		}
		if failed > 0 {
			fmt.Fprintf(os.Stderr, "%d of %d URLs failed (findings, not errors of the crawl); the first: %v\n", failed, tasks, firstError)
		}
		return 0
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "Error: %d of %d tasks failed; the first: %v\n", failed, a.tasks, firstError)
		return 1
	}
	return 0
}

// latenessMs: the k-th finish against the ideal schedule, where round k / concurrency ends at
// (round + 1) × each; nearest-rank p50, p99 and max, as the Rust models compute them.
func latenessMs(finished []float64, concurrency int, each float64) any {
	if len(finished) == 0 {
		return nil
	}
	sort.Float64s(finished)
	late := make([]float64, len(finished))
	for k, t := range finished {
		late[k] = (t - float64(k/concurrency+1)*each) * 1000
	}
	return percentiles(late)
}

// percentiles: nearest-rank p50, p99 and max, as the Rust models compute them.
func percentiles(late []float64) any {
	if len(late) == 0 {
		return nil
	}
	sort.Float64s(late)
	pick := func(q float64) float64 {
		i := int(math.Ceil(q * float64(len(late))))
		return late[max(1, min(i, len(late)))-1]
	}
	round := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	return map[string]float64{"p50": round(pick(0.5)), "p99": round(pick(0.99)), "max": round(late[len(late)-1])}
}

// writeTimeline writes --timeline: one JSON line per task, its start and end in seconds
// since the run's start, and the pid and OS thread it finished on (CONTRACT.md, "Timeline").
func writeTimeline(path string, results []result, start time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, r := range results {
		line, _ := json.Marshal(map[string]any{
			"id": r.id, "start": r.started.Sub(start).Seconds(), "end": r.finished.Sub(start).Seconds(),
			"pid": os.Getpid(), "tid": r.tid,
		})
		if _, err := fmt.Fprintln(f, string(line)); err != nil {
			return err
		}
	}
	return nil
}
