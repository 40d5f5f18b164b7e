// Package logtest keeps what a test's code logs, so that the test can count
// it, and shows it in the test's output.
package logtest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
)

// Recorder is a slog.Handler that writes every record, Debug included, to
// the test's output and keeps it. Handlers derived from it (WithAttrs,
// WithGroup) keep into the same records.
type Recorder struct {
	slog.Handler
	mu   *sync.Mutex
	recs *[]slog.Record
}

// New returns a Recorder writing to t's output.
func New(t testing.TB) *Recorder {
	return &Recorder{
		Handler: slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}),
		mu:      &sync.Mutex{},
		recs:    &[]slog.Record{},
	}
}

// Logger returns a logger writing to r.
func (r *Recorder) Logger() *slog.Logger { return slog.New(r) }

// Handle keeps rec, then writes it.
func (r *Recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	*r.recs = append(*r.recs, rec.Clone())
	r.mu.Unlock()
	return r.Handler.Handle(ctx, rec)
}

// WithAttrs returns a Recorder keeping into the same records.
func (r *Recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &Recorder{Handler: r.Handler.WithAttrs(as), mu: r.mu, recs: r.recs}
}

// WithGroup returns a Recorder keeping into the same records.
func (r *Recorder) WithGroup(name string) slog.Handler {
	return &Recorder{Handler: r.Handler.WithGroup(name), mu: r.mu, recs: r.recs}
}

// Count returns the number of records at level with message msg, or with
// any message when msg is empty.
func (r *Recorder) Count(level slog.Level, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range *r.recs {
		if rec.Level == level && (msg == "" || rec.Message == msg) {
			n++
		}
	}
	return n
}

// Int64s returns the value of attribute key of each record with message
// msg that has it.
func (r *Recorder) Int64s(msg, key string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var vs []int64
	for _, rec := range *r.recs {
		if rec.Message != msg {
			continue
		}
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				vs = append(vs, a.Value.Int64())
			}
			return true
		})
	}
	return vs
}
