// The brigade (CONTRACT.md, "Task i"): a goroutine per task and a one-token channel per
// pair. A hand-off parks one goroutine and readies the next on Go's scheduler, in user space,
// unless an idle OS thread has to be woken to run it.
package main

import (
	"syscall"
	"time"
)

// brigade runs the ring and returns every task's result, in task order.
func brigade(a *args) []result {
	n, h := a.tasks, uint64(a.tasks)*uint64(a.laps)
	boxes := make([]chan uint64, n)
	for i := range boxes {
		boxes[i] = make(chan uint64, 1) // room for one token: a ring of one task hands it to itself
	}
	done := make(chan result, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			started, value := time.Now(), uint64(0)
			for lap := 0; lap < a.laps; lap++ {
				c := <-boxes[i]
				value += c
				if c+1 < h {
					boxes[(i+1)%n] <- c + 1
				}
			}
			r := result{id: i, value: value, started: started, finished: time.Now()}
			if a.verbose || a.timeline != "" {
				r.tid = syscall.Gettid()
			}
			done <- r
		}(i)
	}
	boxes[0] <- 0
	results := make([]result, n)
	for i := 0; i < n; i++ {
		r := <-done
		results[r.id] = r
	}
	return results
}
