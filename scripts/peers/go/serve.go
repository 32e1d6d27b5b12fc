// go-goroutines --serve: net/http, a goroutine per connection.
//
// The server Go programmers write: the standard library's, which parks each connection's
// goroutine in the netpoller while it waits and runs handlers on GOMAXPROCS threads. A
// /query delay is time.Sleep (a parked goroutine, not a blocked thread); /cpu hashes on
// whichever thread runs the goroutine. The contract's limits map onto the server's own:
// ReadHeaderTimeout and IdleTimeout are --timeout-ms, and MaxHeaderBytes is 4 KiB because
// net/http allows 4 KiB beyond it, so a head over 8 KiB gets 431.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type counts struct {
	connections, requests, rejected, errors atomic.Int64
}

func serve(a *args) int {
	var c counts
	write := func(w http.ResponseWriter, status int, body string, close bool) {
		if status == 200 {
			c.requests.Add(1)
		} else {
			c.rejected.Add(1) // a 4xx is an answer, not a failure of the server
		}
		w.Header().Set("Content-Type", "application/json")
		if close {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
	number := func(r *http.Request, name string, fallback, most int64) (int64, bool) {
		text := r.URL.Query().Get(name)
		if text == "" && !r.URL.Query().Has(name) {
			return fallback, fallback >= 0
		}
		v, err := strconv.ParseInt(text, 10, 64)
		return v, err == nil && v >= 0 && v <= most && !strings.HasPrefix(text, "+")
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.ContentLength != 0 {
			write(w, 400, `{"error":"bad request"}`, true)
			return
		}
		id, okID := number(r, "id", -1, 1<<32-1)
		// The contract's 400 names the parameter missing or wrong.
		refuse := func(name string, most int64) {
			why, _ := json.Marshal(map[string]string{"error": fmt.Sprintf("%s needs %s, a whole number from 0 to %d", r.URL.Path, name, most)})
			write(w, 400, string(why), true)
		}
		// Both routes that take parameters need the id; a bad one is named first.
		if (r.URL.Path == "/query" || r.URL.Path == "/cpu") && !okID {
			refuse("id", 1<<32-1)
			return
		}
		switch r.URL.Path {
		case "/health":
			write(w, 200, `{"status":"ok"}`, false)
		case "/query":
			delay, ok := number(r, "delay_ms", 0, 60_000)
			if !ok {
				refuse("delay_ms", 60_000)
				return
			}
			time.Sleep(time.Duration(delay) * time.Millisecond)
			write(w, 200, fmt.Sprintf(`{"id":%d,"value":%d}`, id, id+100), false)
		case "/cpu":
			work, ok := number(r, "work", 100_000, 10_000_000)
			if !ok {
				refuse("work", 10_000_000)
				return
			}
			write(w, 200, fmt.Sprintf(`{"id":%d,"value":%d}`, id, sha256Chain(int(id), int(work))), false)
		default:
			write(w, 404, `{"error":"not found"}`, false)
		}
	})
	timeout := time.Duration(a.timeoutMs) * time.Millisecond
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: timeout,
		IdleTimeout:       timeout,
		MaxHeaderBytes:    4096,
		ConnState: func(_ net.Conn, state http.ConnState) {
			if state == http.StateNew {
				c.connections.Add(1)
			}
		},
		// net/http's own log line for an accept that failed (EMFILE): named once a second.
		ErrorLog: log.New(&onceASecond{}, "", 0),
	}
	ln, err := net.Listen("tcp", a.serve)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %s\n", cannotListen(a.serve, err))
		return 1
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	start := time.Now()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go srv.Serve(ln)
	<-stop
	// Close the listener and idle connections, and wait for the requests in flight.
	srv.Shutdown(context.Background())
	var self syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	seconds := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	r := map[string]any{
		"model": "go-goroutines", "serve": ln.Addr().String(), "workers": 1, "offload": false,
		"connections": c.connections.Load(), "requests": c.requests.Load(),
		"rejected": c.rejected.Load(), "errors": c.errors.Load(),
		"refused": 0, "wall_s": time.Since(start).Seconds(),
		"user_s": seconds(self.Utime), "sys_s": seconds(self.Stime), "max_rss_kib": self.Maxrss,
		"children_max_rss_kib": 0, "voluntary_ctx_switches": self.Nvcsw, "involuntary_ctx_switches": self.Nivcsw,
	}
	if a.json {
		line, _ := json.Marshal(r)
		fmt.Println(string(line))
	} else {
		counted := func(n int64, noun string) string {
			if n == 1 {
				return fmt.Sprintf("1 %s", noun)
			}
			return fmt.Sprintf("%d %ss", n, noun)
		}
		fmt.Printf("go-goroutines · served %s on %s · %d answered 4xx · %s · %.3f s · peak RSS %.1f MiB\n",
			counted(c.requests.Load(), "request"), counted(c.connections.Load(), "connection"),
			c.rejected.Load(), counted(c.errors.Load(), "error"), r["wall_s"], float64(self.Maxrss)/1024)
	}
	return 0
}

// onceASecond writes net/http's error log to stderr, at most one line a second.
type onceASecond struct {
	mu   sync.Mutex
	last time.Time
}

func (o *onceASecond) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if time.Since(o.last) >= time.Second {
		o.last = time.Now()
		line := strings.TrimSpace(string(p))
		if strings.Contains(line, "too many open files") {
			line += " — limit to raise: `ulimit -n` (RLIMIT_NOFILE)"
		}
		fmt.Fprintln(os.Stderr, line)
	}
	return len(p), nil
}

// cannotListen is why a bind refused addr, in the Rust models' words, with what to do.
func cannotListen(addr string, err error) string {
	host, port, _ := net.SplitHostPort(addr)
	reason := fmt.Sprintf("cannot listen on %s: %v", addr, err)
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return reason + " — " + host + " is not an address of this machine (`ip -brief address` lists them; 127.0.0.1 or 0.0.0.0 always are)"
	case errors.Is(err, syscall.EACCES):
		return reason + " — port " + port + " is below 1024, which only root or a program with CAP_NET_BIND_SERVICE may take (net.ipv4.ip_unprivileged_port_start); pick a port from 1024 up"
	case errors.Is(err, syscall.EADDRINUSE):
		return reason + " — another program listens on port " + port + " (`ss -ltnp` names it): stop it, or pick another port (0: any free one)"
	}
	return reason
}
