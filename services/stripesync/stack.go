package stripesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// stack runs the parts of dev, each in its own goroutine under its own
// context, and stops them in the reverse order of their start, each one
// only once the one started after it has returned: the fake's webhooks
// before the syncer, the syncer before ingest, ingest before the
// processor, the processor before NATS.
type stack struct {
	log     *slog.Logger
	timeout time.Duration // how long each part may take to stop
	parts   []*part
	exited  chan *part // parts that returned before being stopped
}

type part struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

func newStack(log *slog.Logger, timeout time.Duration) *stack {
	return &stack{log: log, timeout: timeout, exited: make(chan *part, 16)}
}

// start runs run until stop cancels its context. The context keeps parent's
// values but not its cancellation: stop, not the caller, decides the order.
func (s *stack) start(parent context.Context, name string, run func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	p := &part{name: name, cancel: cancel, done: make(chan struct{})}
	s.parts = append(s.parts, p)
	go func() {
		defer close(p.done)
		p.err = run(ctx)
		if ctx.Err() == nil {
			select {
			case s.exited <- p:
			default:
			}
		}
	}()
}

// Exited delivers each part that returned by itself: it failed.
func (s *stack) Exited() <-chan *part { return s.exited }

// stop stops every part, last started first, and returns their errors.
func (s *stack) stop() error {
	var errs []error
	for i := len(s.parts) - 1; i >= 0; i-- {
		p := s.parts[i]
		p.cancel()
		select {
		case <-p.done:
			if p.err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.name, p.err))
			}
			s.log.Info("stopped " + p.name)
		case <-time.After(s.timeout):
			errs = append(errs, fmt.Errorf("%s: not stopped after %s", p.name, s.timeout))
		}
	}
	s.parts = nil
	return errors.Join(errs...)
}
