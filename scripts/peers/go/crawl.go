// The crawl workload (CONTRACT.md, "crawl") in Go: W goroutines sharing one frontier behind
// a mutex, fetching on net/http with MaxConnsPerHost = --per-host, kept alive.
//
// The frontier is the Rust models' workload::crawl, ported: a queue per origin (so that an
// origin at its --per-host limit holds up no other), the seen set, the retries waiting for
// their time, the figures. x/net/html cannot be installed here (no module proxy), and
// encoding/xml does not know that a <script> is raw text, so the links are found by the
// small HTML tokenizer below, which does: comments, raw text, quoted and unquoted
// attributes, character references (the standard library's html.UnescapeString).
package main

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	defaultSeed    = "http://127.0.0.1:7880/"
	crawlTasks     = 100000
	defaultWorkers = 10
	maxBody        = 4 << 20
	retries        = 2
	retryWait      = 50 * time.Millisecond
	mostRetryWait  = time.Second
	mostHops       = 5
)

var failureKinds = []string{"timeout", "refused", "reset", "status", "too_large", "malformed", "redirects"}

// stringList is a repeatable flag (--seed, --allow).
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// ---- pages ---------------------------------------------------------------------------

func fnv1a64(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 0x100000001b3
	}
	return h
}

func pageValue(u string) uint64 { return splitmix64(fnv1a64(u)) }

// resolve is href against base (RFC 3986 §5, net/url), normalized as the contract says — the
// fragment dropped, the scheme and host lower-cased, port 80 left out, an empty path "/", the
// query kept — or "" when it names no http:// page.
func resolve(base *url.URL, href string) string {
	href = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(strings.TrimSpace(href))
	ref, err := url.Parse(href)
	if err != nil {
		return ""
	}
	u := ref
	if base != nil {
		u = base.ResolveReference(ref)
	}
	if strings.ToLower(u.Scheme) != "http" || u.Hostname() == "" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && p != "80" {
		n, err := strconv.Atoi(p)
		if err != nil || n > 65535 {
			return ""
		}
		host += ":" + strconv.Itoa(n)
	}
	if u.User != nil {
		host = u.User.String() + "@" + host
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	out := "http://" + host + path
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}

func originOf(normalized string) string {
	rest := normalized[len("http://"):]
	return "http://" + rest[:strings.IndexByte(rest, '/')]
}

// links is the href of every <a> element of an HTML body, in order, its character references
// decoded; nothing inside a comment, nor in the elements whose text is not markup.
func links(body []byte) []string {
	s := string(body)
	var hrefs []string
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return hrefs
			}
			i += 4 + end + 3
		case strings.HasPrefix(rest, "<!") || strings.HasPrefix(rest, "<?") || strings.HasPrefix(rest, "</") && !isLetterAt(rest, 2):
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return hrefs
			}
			i += end + 1
		case isLetterAt(rest, 1) || strings.HasPrefix(rest, "</"):
			name, attrs, n := tag(rest)
			i += n
			if strings.HasPrefix(rest, "</") {
				continue
			}
			if name == "a" {
				if href, ok := attrs["href"]; ok {
					hrefs = append(hrefs, href)
				}
			}
			if textOnly[name] {
				// Raw text until the element's end tag, whatever it holds.
				end := indexFold(s[i:], "</"+name)
				if end < 0 {
					return hrefs
				}
				i += end
			}
		default:
			i++
		}
	}
	return hrefs
}

var textOnly = map[string]bool{"script": true, "style": true, "title": true, "textarea": true,
	"xmp": true, "iframe": true, "noembed": true, "noframes": true, "plaintext": true}

func isLetterAt(s string, i int) bool {
	return i < len(s) && (s[i]|0x20 >= 'a' && s[i]|0x20 <= 'z')
}

func indexFold(s, sub string) int {
	return strings.Index(strings.ToLower(s), sub)
}

// tag reads a start or end tag at the start of s: its lower-cased name, its attributes (the
// first of each name, values decoded), and its length.
func tag(s string) (string, map[string]string, int) {
	i := 1
	if strings.HasPrefix(s, "</") {
		i = 2
	}
	start := i
	for i < len(s) && !strings.ContainsRune(" \t\n\f\r/>", rune(s[i])) {
		i++
	}
	name := strings.ToLower(s[start:i])
	attrs := map[string]string{}
	for i < len(s) {
		for i < len(s) && strings.ContainsRune(" \t\n\f\r/", rune(s[i])) {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] == '>' {
			return name, attrs, i + 1
		}
		at := i
		for i < len(s) && (i == at || !strings.ContainsRune(" \t\n\f\r/>=", rune(s[i]))) {
			i++
		}
		key := strings.ToLower(s[at:i])
		for i < len(s) && strings.ContainsRune(" \t\n\f\r", rune(s[i])) {
			i++
		}
		value := ""
		if i < len(s) && s[i] == '=' {
			i++
			for i < len(s) && strings.ContainsRune(" \t\n\f\r", rune(s[i])) {
				i++
			}
			if i < len(s) && (s[i] == '"' || s[i] == '\'') {
				end := strings.IndexByte(s[i+1:], s[i])
				if end < 0 {
					return name, attrs, len(s)
				}
				value, i = s[i+1:i+1+end], i+end+2
			} else {
				v := i
				for i < len(s) && !strings.ContainsRune(" \t\n\f\r>", rune(s[i])) {
					i++
				}
				value = s[v:i]
			}
		}
		if _, seen := attrs[key]; !seen {
			attrs[key] = html.UnescapeString(value)
		}
	}
	return name, attrs, len(s)
}

// ---- the frontier, sans I/O --------------------------------------------------------------

type waiting struct {
	url     string
	hops    int
	retry   bool
	id      int
	attempt int
	started time.Time
}

type fetchJob struct {
	id, origin, attempt, hops int
	url                       string
	started                   time.Time
}

// fetched is what came of a request: an answer (its status, head fields, body length and
// links) or a failure of a kind.
type fetched struct {
	status     int
	location   string
	retryAfter time.Duration
	hasRetry   bool
	bytes      int
	hrefs      []string
	kind       string // a failure's kind, "" for an answer
	err        error
	limit      bool // the machine ran out of something: it fails the crawl
}

type retryAt struct {
	at     time.Time
	origin int
	w      waiting
}
type retryHeap []retryAt

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(retryAt)) }
func (h *retryHeap) Pop() any          { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

type crawler struct {
	scope                             map[string]bool
	mostURLs, mostInFlight, perOrigin int
	origins                           map[string]int
	queues                            [][]waiting
	busy                              []int
	turn                              int
	retries                           retryHeap
	seen                              map[string]bool
	inFlight, requested, waitingN     int
	fresh, seedTasks, open            int
	seedAnswered                      bool
	latencies                         []float64
	pages, retried, redirects, bytes  int
	links, peakFrontier, peakConns    int
	limited                           bool
	failures                          map[string]int
	outOf                             error
	results                           []result
}

func newCrawler(a *args, workers int) *crawler {
	c := &crawler{scope: map[string]bool{}, mostURLs: a.tasks, mostInFlight: workers, perOrigin: a.perHost,
		origins: map[string]int{}, seen: map[string]bool{}, failures: map[string]int{}}
	for _, s := range a.seeds {
		c.scope[originOf(s)] = true
	}
	for _, o := range a.allow {
		c.scope[o] = true
	}
	for _, s := range a.seeds {
		c.queue(s, 0)
	}
	c.seedTasks = c.waitingN
	return c
}

func (c *crawler) queue(u string, hops int) {
	name := originOf(u)
	if !c.scope[name] || c.seen[u] {
		return
	}
	if c.requested+c.fresh >= c.mostURLs {
		c.limited = true
		return
	}
	c.seen[u] = true
	at, ok := c.origins[name]
	if !ok {
		at = len(c.queues)
		c.origins[name] = at
		c.queues = append(c.queues, nil)
		c.busy = append(c.busy, 0)
	}
	c.queues[at] = append(c.queues[at], waiting{url: u, hops: hops})
	c.waitingN++
	c.fresh++
	c.peakFrontier = max(c.peakFrontier, c.waitingN)
}

// next is the next request that may start: under --workers and --per-host; retries first.
func (c *crawler) next(now time.Time) (fetchJob, bool) {
	// Due retries join their queues first, so that the next retry is always still to come.
	for len(c.retries) > 0 && !c.retries[0].at.After(now) {
		r := heap.Pop(&c.retries).(retryAt)
		c.queues[r.origin] = append([]waiting{r.w}, c.queues[r.origin]...)
		c.waitingN++
	}
	if c.inFlight >= c.mostInFlight {
		return fetchJob{}, false
	}
	n := len(c.queues)
	for k := 0; k < n; k++ {
		at := (c.turn + k) % n
		if c.busy[at] >= c.perOrigin || len(c.queues[at]) == 0 {
			continue
		}
		w := c.queues[at][0]
		c.queues[at] = c.queues[at][1:]
		c.turn = (at + 1) % n
		c.waitingN--
		c.inFlight++
		c.busy[at]++
		if !w.retry {
			c.fresh--
			c.requested++
			return fetchJob{id: c.requested - 1, origin: at, hops: w.hops, url: w.url, started: now}, true
		}
		return fetchJob{id: w.id, origin: at, attempt: w.attempt, hops: w.hops, url: w.url, started: w.started}, true
	}
	return fetchJob{}, false
}

func (c *crawler) over() bool { return c.waitingN == 0 && len(c.retries) == 0 && c.inFlight == 0 }

func (c *crawler) finish(f fetchJob, got fetched, tid int) {
	now := time.Now()
	c.inFlight--
	c.busy[f.origin]--
	if f.id < c.seedTasks && got.kind == "" {
		c.seedAnswered = true
	}
	if got.kind == "reset" && f.attempt < retries {
		c.retry(f, retryWait, now)
		return
	}
	if got.kind != "" {
		c.failed(f, got.kind, got.err, got.limit, now, tid)
		return
	}
	c.bytes += got.bytes
	switch {
	case got.status == 200:
		base, _ := url.Parse(f.url)
		for _, h := range got.hrefs {
			c.links++
			if u := resolve(base, h); u != "" {
				c.queue(u, 0)
			}
		}
		c.pages++
		c.ended(f, now, result{id: f.id, value: pageValue(f.url), started: f.started, finished: now, tid: tid})
	case got.status == 503 && f.attempt < retries:
		wait := retryWait
		if got.hasRetry {
			wait = min(got.retryAfter, mostRetryWait)
		}
		c.retry(f, wait, now)
	case (got.status == 301 || got.status == 302 || got.status == 307 || got.status == 308) && got.location != "":
		if f.hops >= mostHops {
			c.failed(f, "redirects", fmt.Errorf("%s: more than %d redirects", f.url, mostHops), false, now, tid)
			return
		}
		base, _ := url.Parse(f.url)
		if u := resolve(base, got.location); u != "" {
			c.queue(u, f.hops+1)
		}
		c.redirects++
		c.latencies = append(c.latencies, float64(now.Sub(f.started).Nanoseconds())/1e6)
	default:
		c.failed(f, "status", fmt.Errorf("%s: HTTP %d", f.url, got.status), false, now, tid)
	}
}

func (c *crawler) retry(f fetchJob, wait time.Duration, now time.Time) {
	c.retried++
	w := waiting{url: f.url, hops: f.hops, retry: true, id: f.id, attempt: f.attempt + 1, started: f.started}
	heap.Push(&c.retries, retryAt{at: now.Add(wait), origin: f.origin, w: w})
}

func (c *crawler) failed(f fetchJob, kind string, err error, limit bool, now time.Time, tid int) {
	c.failures[kind]++
	if limit && c.outOf == nil {
		c.outOf = err
	}
	c.ended(f, now, result{id: f.id, err: err, started: f.started, finished: now, tid: tid})
}

func (c *crawler) ended(f fetchJob, now time.Time, r result) {
	c.latencies = append(c.latencies, float64(now.Sub(f.started).Nanoseconds())/1e6)
	c.results = append(c.results, r)
}

// report is the report's "crawl" figures.
func (c *crawler) report(wall time.Duration) map[string]any {
	failures := map[string]int{}
	for _, k := range failureKinds {
		if n := c.failures[k]; n > 0 {
			failures[k] = n
		}
	}
	return map[string]any{"pages": c.pages, "failures": failures, "retries": c.retried,
		"redirects": c.redirects, "bytes": c.bytes, "links": c.links, "unique": len(c.seen),
		"peak_frontier": c.peakFrontier, "peak_connections": c.peakConns, "limited": c.limited,
		"pages_per_s": float64(c.pages) / wall.Seconds(), "latency_ms": percentiles(c.latencies)}
}

// fatal is what failed the crawl itself: the machine ran out of something, or no seed answered.
func (c *crawler) fatal(first error) error {
	if c.outOf != nil {
		return c.outOf
	}
	if !c.seedAnswered && c.requested > 0 {
		return fmt.Errorf("no seed answered: %v", first)
	}
	return nil
}

// ---- the fetch, on net/http ------------------------------------------------------------

// countedConn tells the crawl when it closes: --per-host counts connections.
type countedConn struct {
	net.Conn
	once   sync.Once
	closed func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.closed)
	return c.Conn.Close()
}

func newCrawlClient(a *args, c *crawler, mu *sync.Mutex) *http.Client {
	dialer := &net.Dialer{}
	transport := &http.Transport{
		MaxConnsPerHost: a.perHost, MaxIdleConnsPerHost: a.perHost, MaxIdleConns: 0,
		DisableCompression: true, ResponseHeaderTimeout: 0,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			c.open++
			c.peakConns = max(c.peakConns, c.open)
			mu.Unlock()
			return &countedConn{Conn: conn, closed: func() { mu.Lock(); c.open--; mu.Unlock() }}, nil
		},
	}
	return &http.Client{Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// fetchPage is one GET of u within --timeout-ms in all, its links parsed here.
func fetchPage(a *args, client *http.Client, u string) fetched {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(a.timeoutMs)*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return fetched{kind: "malformed", err: fmt.Errorf("%s: %v", u, err)}
	}
	req.Header.Set("User-Agent", "conclab")
	resp, err := client.Do(req)
	if err != nil {
		return fetchFailure(u, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > maxBody {
		return fetched{kind: "too_large", err: fmt.Errorf("%s: a body over %d bytes", u, maxBody)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fetchFailure(u, err)
	}
	if len(body) > maxBody {
		return fetched{kind: "too_large", err: fmt.Errorf("%s: a body over %d bytes", u, maxBody)}
	}
	got := fetched{status: resp.StatusCode, location: resp.Header.Get("Location"), bytes: len(body)}
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
		got.retryAfter, got.hasRetry = time.Duration(s)*time.Second, true
	}
	media := strings.ToLower(strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0]))
	if resp.StatusCode == 200 && media == "text/html" {
		got.hrefs = links(body)
	}
	return got
}

func fetchFailure(u string, err error) fetched {
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
		return fetched{kind: "refused", err: fmt.Errorf("%s: %v — limit to raise: RLIMIT_NOFILE (`ulimit -n`)", u, err), limit: true}
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fetched{kind: "refused", err: fmt.Errorf("%s: %v — limit to raise: the ephemeral ports: net.ipv4.ip_local_port_range", u, err), limit: true}
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return fetched{kind: "timeout", err: fmt.Errorf("%s: timed out (--timeout-ms)", u)}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fetched{kind: "refused", err: fmt.Errorf("%s: %v", u, opErr.Err)}
	case strings.Contains(err.Error(), "malformed HTTP"):
		return fetched{kind: "malformed", err: fmt.Errorf("%s: %v", u, err)}
	}
	return fetched{kind: "reset", err: fmt.Errorf("%s: %v", u, err)}
}

// crawl runs the crawl on W goroutines and returns its results, the crawler and the wall time.
func crawl(a *args) (*crawler, time.Duration) {
	workers := a.workers
	if workers == 0 {
		workers = defaultWorkers
	}
	var mu sync.Mutex
	ready := sync.NewCond(&mu)
	c := newCrawler(a, workers)
	client := newCrawlClient(a, c, &mu)
	start := time.Now()
	var wakeAt time.Time
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				var f fetchJob
				for {
					if c.over() || c.outOf != nil {
						ready.Broadcast()
						mu.Unlock()
						return
					}
					var ok bool
					if f, ok = c.next(time.Now()); ok {
						break
					}
					if len(c.retries) > 0 && (wakeAt.IsZero() || c.retries[0].at.Before(wakeAt)) {
						// A retry waits for its time: one timer wakes the workers then.
						wakeAt = c.retries[0].at
						time.AfterFunc(time.Until(wakeAt), func() {
							mu.Lock()
							wakeAt = time.Time{}
							ready.Broadcast()
							mu.Unlock()
						})
					}
					ready.Wait()
				}
				mu.Unlock()
				got := fetchPage(a, client, f.url)
				tid := 0
				if a.verbose || a.timeline != "" {
					tid = syscall.Gettid()
				}
				mu.Lock()
				c.finish(f, got, tid)
				// Wake as many workers as there are URLs waiting (and one, to end).
				for k := 0; k <= min(c.waitingN, workers); k++ {
					ready.Signal()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	sort.Slice(c.results, func(i, j int) bool { return c.results[i].id < c.results[j].id })
	return c, wall
}

// parseScope checks --seed and --allow: each an http:// URL.
func parseScope(seeds, allow []string) ([]string, []string) {
	http := func(flag, text string) string {
		u := ""
		if strings.HasPrefix(strings.ToLower(text), "http://") {
			u = resolve(nil, text)
		}
		if u == "" {
			reject(fmt.Sprintf("%s: %q is not an http:// URL", flag, text))
		}
		return u
	}
	if len(seeds) == 0 {
		seeds = []string{defaultSeed}
	}
	var s, o []string
	for _, x := range seeds {
		s = append(s, http("--seed", x))
	}
	for _, x := range allow {
		o = append(o, originOf(http("--allow", x)))
	}
	return s, o
}

// crawlLine is the crawl's part of the human line, as the Rust models print it.
func crawlLine(c map[string]any) string {
	line := fmt.Sprintf(" · %d pages (%.0f/s), %d redirects, %d retries", c["pages"], c["pages_per_s"], c["redirects"], c["retries"])
	failures := c["failures"].(map[string]int)
	var kinds []string
	for _, k := range failureKinds {
		if n := failures[k]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
		}
	}
	if len(kinds) > 0 {
		line += ", failed: " + strings.Join(kinds, ", ")
	}
	if c["limited"].(bool) {
		line += " · limited at --tasks"
	}
	return line
}
