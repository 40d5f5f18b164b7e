// Package outage logs a dependency's outage as two lines, a warning when it
// starts and an info when it ends, however many operations fail while it
// lasts: a loop that retries every 200 ms would otherwise write a warning
// each time, and bury the outage's start and end among them.
package outage

import (
	"log/slog"
	"sync/atomic"
)

// Watch follows one dependency as seen by one loop or pool of workers. It is
// safe for concurrent use.
type Watch struct {
	log              *slog.Logger
	started, stopped string
	// failing is set by the first failure after a success (or the start)
	// and cleared by the next success.
	failing atomic.Bool
}

// New returns a Watch that logs started (at Warn, with the first error)
// when an outage starts and stopped (at Info) when it ends.
func New(log *slog.Logger, started, stopped string) *Watch {
	return &Watch{log: log, started: started, stopped: stopped}
}

// Failed records a failure. The first since the last success logs the
// start of an outage, with err; the others log nothing.
func (w *Watch) Failed(err error) {
	if w.failing.CompareAndSwap(false, true) {
		w.log.Warn(w.started, "err", err)
	}
}

// Succeeded records a success. The first after a failure logs the end of
// the outage; the others log nothing.
func (w *Watch) Succeeded() {
	if w.failing.CompareAndSwap(true, false) {
		w.log.Info(w.stopped)
	}
}
