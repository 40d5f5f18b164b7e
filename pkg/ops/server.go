// Package ops is a service's operational HTTP server: GET /healthz, GET
// /readyz answering from the service's own checks, GET /metrics from its
// private Prometheus registry, and any routes the service adds (ingest's
// webhook endpoint).
//
// Listen binds the address before the service starts its work, so a taken
// port stops the service at start, naming the address, and "listening" is
// logged only once the port is held. Run serves until its context is done,
// then shuts down gracefully.
package ops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// CheckTimeout bounds each readiness check of one /readyz request.
const CheckTimeout = 2 * time.Second

// Check is one condition of readiness.
type Check struct {
	// Name says what is checked ("nats", "database"); a failing /readyz
	// names it.
	Name string
	// Func returns nil when the service is ready as far as this check goes.
	// Its context ends with the request or after CheckTimeout.
	Func func(ctx context.Context) error
}

// Config is what a Server serves and how.
type Config struct {
	// Addr is the address to listen on, ":8081"; port 0 takes a free one.
	Addr string
	// Registry is served on GET /metrics. Nil serves an empty registry.
	Registry *prometheus.Registry
	// Checks make up /readyz, which answers 200 when all pass and 503
	// naming each one that fails. None: always ready.
	Checks []Check
	// Routes are the service's own handlers, by http.ServeMux pattern
	// ("POST /webhooks/stripe").
	Routes map[string]http.Handler
	// ReadTimeout bounds reading a request, body included. Default 10s.
	// The headers alone must come within 5s, or ReadTimeout if shorter:
	// a client trickling them (slowloris) holds a connection no longer.
	ReadTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers; more gets 431.
	// Default 64 KiB, far above what Stripe or a scraper sends, and a
	// sixteenth of net/http's own default.
	MaxHeaderBytes int
	// WriteTimeout bounds a request from the end of its headers to the end
	// of the response; it must cover the slowest handler. Default 10s.
	WriteTimeout time.Duration
	// ShutdownTimeout is how long Run waits for requests in flight once its
	// context is done. Default 20s.
	ShutdownTimeout time.Duration
}

// Server serves a service's operational endpoints on a bound listener.
type Server struct {
	log             *slog.Logger
	ln              net.Listener
	srv             *http.Server
	shutdownTimeout time.Duration
}

// Listen binds cfg.Addr and prepares the server; Run serves it. An address
// that cannot be bound is an error naming it.
func Listen(log *slog.Logger, cfg Config) (*Server, error) {
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("GET /readyz", readyHandler(cfg.Checks))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	for pattern, h := range cfg.Routes {
		mux.Handle(pattern, h)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("http server: %w", err) // the error names the address
	}
	log.Info("listening", "addr", ln.Addr().String())
	readTimeout := cmp.Or(cfg.ReadTimeout, 10*time.Second)
	return &Server{
		log: log,
		ln:  ln,
		srv: &http.Server{
			Handler: mux,
			// net/http applies ReadTimeout only once the headers are
			// read: without the min, a longer header timeout would
			// outlast it.
			ReadHeaderTimeout: min(5*time.Second, readTimeout),
			ReadTimeout:       readTimeout,
			MaxHeaderBytes:    cmp.Or(cfg.MaxHeaderBytes, 64<<10),
			WriteTimeout:      cmp.Or(cfg.WriteTimeout, 10*time.Second),
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		shutdownTimeout: cmp.Or(cfg.ShutdownTimeout, 20*time.Second),
	}, nil
}

// Addr is the bound address, with the port chosen when Config.Addr asked
// for port 0.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done, then stops taking requests and waits up to
// the shutdown timeout for those in flight. It returns nil after a clean
// shutdown, and an error when serving fails or the requests in flight
// outlast the timeout.
func (s *Server) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve http %s: %w", s.Addr(), err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "addr", s.Addr())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve http %s: %w", s.Addr(), serr))
	}
	if err != nil {
		return fmt.Errorf("shutdown http %s: %w", s.Addr(), err)
	}
	return nil
}

// Close releases the listener of a Server that will not Run, such as when a
// later step of the service's start fails.
func (s *Server) Close() error { return s.ln.Close() }

// readyHandler runs every check, so that a 503 names all that fail.
func readyHandler(checks []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var failed []string
		for _, c := range checks {
			ctx, cancel := context.WithTimeout(r.Context(), CheckTimeout)
			err := c.Func(ctx)
			cancel()
			if err != nil {
				failed = append(failed, c.Name+": "+err.Error())
			}
		}
		if len(failed) > 0 {
			http.Error(w, strings.Join(failed, "\n"), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
}
