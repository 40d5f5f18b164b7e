package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Connect opens the NATS connection every service uses. It keeps trying to
// connect and to reconnect forever, and it does not buffer publishes while
// disconnected (ReconnectBufSize -1): a publish then fails at once, so
// ingest answers 503 instead of holding a request on an event that no
// server has stored.
//
// An outage logs one warning naming the address and the setting
// ("NATS refused at nats://127.0.0.1:4222 (NATS_URL): connection refused"),
// however many attempts it lasts, and one info when the connection is back.
// Credentials in url are never logged.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, error) {
	addr := redactURLs(url)
	var down atomic.Bool // an outage has been logged and has not ended yet
	recovered := func(nc *nats.Conn) {
		if down.CompareAndSwap(true, false) {
			log.Info("nats connected", "server", nc.ConnectedUrlRedacted())
		}
	}
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.ConnectHandler(func(nc *nats.Conn) {
			down.Store(true) // the first connection is always worth a line
			recovered(nc)
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsDraining() || nc.IsClosed() {
				return // our own stop
			}
			if down.CompareAndSwap(false, true) {
				log.Warn("nats disconnected, reconnecting", "server", addr, "err", err)
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			// A failed first connection reports ErrNoServers, which says
			// nothing; the attempt 500ms later reports the dial error.
			if errors.Is(err, nats.ErrNoServers) {
				return
			}
			if down.CompareAndSwap(false, true) {
				log.Warn("nats unreachable, retrying", "err", Unreachable(addr, err))
			}
		}),
		nats.ReconnectHandler(recovered),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("nats async error", "subject", subject, "err", err)
		}),
	)
	if err != nil {
		return nil, Unreachable(addr, err)
	}
	return nc, nil
}

// Unreachable is the error of a NATS server that cannot be reached at addr
// (from NATS_URL, without credentials), reduced to its cause:
// "NATS refused at nats://127.0.0.1:4222 (NATS_URL): connection refused".
func Unreachable(addr string, err error) error {
	if err == nil {
		err = errors.New("not connected")
	}
	return fmt.Errorf("NATS refused at %s (NATS_URL): %w", addr, Cause(err))
}

// Cause returns the operating system's error under err (ECONNREFUSED,
// EHOSTUNREACH, …) when there is one, for a short message; otherwise err.
func Cause(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns
	}
	return err
}

// redactURLs is the comma-separated server list with any password or
// token replaced.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := neturl.Parse(p)
		switch {
		case err != nil || u.Host == "":
			if strings.Contains(p, "@") {
				p = "[unparsable URL]"
			}
		case u.User != nil:
			u.User = neturl.User("REDACTED")
			p = u.String()
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// Drain flushes what nc still holds (unsent publishes, acks of messages
// already handled) and closes it, waiting up to timeout for the close: a
// service that returns before then loses its last acks, and their messages
// are redelivered.
func Drain(nc *nats.Conn, timeout time.Duration) error {
	closed := make(chan struct{})
	var once sync.Once
	nc.SetClosedHandler(func(*nats.Conn) { once.Do(func() { close(closed) }) })
	if err := nc.Drain(); err != nil {
		return fmt.Errorf("drain nats: %w", err)
	}
	select {
	case <-closed:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("drain nats: not done after %s", timeout)
	}
}

// Retry calls declare every interval until it succeeds, and returns ctx's
// error if ctx ends first. It is for start-up declarations (the stream, a
// consumer) that wait for NATS: while nc is disconnected it does not try,
// since Connect has logged the outage; a failure of another kind logs one
// warning for the whole run of failures, and the success after it one
// info. what names the declaration in those lines.
func Retry(ctx context.Context, nc *nats.Conn, log *slog.Logger, what string, interval time.Duration, declare func(context.Context) error) error {
	failing := false
	for {
		if nc.IsConnected() {
			err := declare(ctx)
			switch {
			case err == nil:
				if failing {
					log.Info(what + " declared after retrying")
				}
				return nil
			case ctx.Err() != nil:
				return ctx.Err()
			case !failing && nc.IsConnected():
				failing = true
				log.Warn(what+" not declared, retrying", "err", err, "every", interval)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// AwaitConnected waits up to wait until nc, opened by Connect on url, is
// connected. If it is not by then, or ctx ends first, the error names the
// address and the setting, as Unreachable does: a command that starts with
// NATS down says where it looked instead of failing its first publish
// ("nats: outbound buffer limit exceeded", since Connect buffers nothing
// while disconnected).
func AwaitConnected(ctx context.Context, nc *nats.Conn, url string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			if err := nc.LastError(); err != nil {
				return Unreachable(redactURLs(url), err)
			}
			// The attempts' errors went to Connect's log (one warning).
			return fmt.Errorf("NATS unreachable at %s (NATS_URL): not connected after %s", redactURLs(url), wait)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// ConnectJetStream is Connect and the JetStream context on the connection,
// what every service and command opens first; opts configure the context
// (jetstream.WithDefaultTimeout).
func ConnectJetStream(url, name string, log *slog.Logger, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := Connect(url, name, log)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}
