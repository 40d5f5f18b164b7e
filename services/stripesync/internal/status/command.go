package status

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/events/envflag"
)

// ExitAttention is the exit status of stripesync status when something
// needs attention (1 is for the command failing).
const ExitAttention = 2

// AttentionError is what Run returns when the report it printed needs
// attention: the reasons, one a line.
type AttentionError struct{ Reasons []string }

func (e *AttentionError) Error() string {
	return "needs attention:\n  - " + strings.Join(e.Reasons, "\n  - ")
}

// ExitCode is ExitAttention.
func (e *AttentionError) ExitCode() int { return ExitAttention }

// DefaultHTTPPort is the port -http listens on when given only a host.
const DefaultHTTPPort = "8090"

const about = `stripesync status shows where the mirror stands: the stream and the processor's lag, dead letters, objects waiting for a fetch, the syncer's catch-up and backfills, and the rows of every relation.

usage: stripesync status [flags]

It only reads: its database connections are read-only, and nothing is
published or acknowledged; the read-only role of db/roles.sql is enough. With -json it prints the report as JSON. With
-http ADDR it serves the report as a web page that refreshes itself every 2 s,
with charts of the last 10 minutes, and GET /status.json; the page shows
counts and times, never an account or object id, and binds only to a
loopback address unless -http-public is given. The exit status is 2, the
reasons on stderr, when something needs attention: a source that cannot be
read, a lag or an unacknowledged message older than its threshold, dead
letters, an object waiting too long for a fetch.`

type config struct {
	DatabaseURL string
	NATSURL     string
	JSON        bool
	HTTP        string
	HTTPPublic  bool
	Timeout     time.Duration
	Thresholds  Thresholds
}

func parseConfig(args []string, getenv func(string) string, out io.Writer, defaultDatabaseURL string) (config, error) {
	cfg := config{Thresholds: DefaultThresholds}
	fs := flag.NewFlagSet("stripesync status", flag.ContinueOnError)
	fs.SetOutput(out)
	b := envflag.New(fs)
	b.Describe(about)
	b.StringVar(&cfg.DatabaseURL, "database-url", defaultDatabaseURL, "PostgreSQL URL of the mirror; connections are read-only")
	b.StringVar(&cfg.NATSURL, "nats-url", "nats://127.0.0.1:4222", "NATS server with the stream")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON, what needs attention under \"attention\"")
	fs.StringVar(&cfg.HTTP, "http", "", "serve the report as a web page on this address, host:port (port "+DefaultHTTPPort+" when only a host is given, 127.0.0.1 when only a port)")
	fs.BoolVar(&cfg.HTTPPublic, "http-public", false, "let -http listen on an address other than loopback")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "how long reading the report may take")
	fs.Uint64Var(&cfg.Thresholds.MaxPending, "max-pending", DefaultThresholds.MaxPending, "messages the processor may have pending before it needs attention")
	fs.DurationVar(&cfg.Thresholds.MaxUnackedAge, "max-unacked-age", DefaultThresholds.MaxUnackedAge, "age of the oldest unacknowledged message that needs attention")
	fs.DurationVar(&cfg.Thresholds.MaxFetchWait, "max-fetch-wait", DefaultThresholds.MaxFetchWait, "how long an object may wait for a fetch before it needs attention")
	if err := b.Parse(args, getenv); err != nil {
		return config{}, err
	}
	if cfg.HTTP != "" {
		addr, err := listenAddr(cfg.HTTP, cfg.HTTPPublic)
		if err != nil {
			return config{}, err
		}
		cfg.HTTP = addr
	}
	switch {
	case cfg.DatabaseURL == "":
		return config{}, errors.New("DATABASE_URL must not be empty")
	case cfg.NATSURL == "":
		return config{}, errors.New("NATS_URL must not be empty")
	case cfg.Timeout <= 0:
		return config{}, fmt.Errorf("-timeout must be positive, have %s", cfg.Timeout)
	}
	return cfg, nil
}

// listenAddr completes addr (a missing port is DefaultHTTPPort, a missing
// host 127.0.0.1) and refuses a host that is not loopback unless public.
func listenAddr(addr string, public bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// A bare host or a bare port.
		if strings.Trim(addr, "0123456789") == "" {
			host, port = "", addr
		} else {
			host, port = strings.Trim(addr, "[]"), DefaultHTTPPort
		}
	}
	if host == "" && !public {
		host = "127.0.0.1"
	}
	if !public && !isLoopback(host) {
		return "", fmt.Errorf("-http %s is not a loopback address; the page is for this machine, give -http-public to serve it to others", addr)
	}
	return net.JoinHostPort(host, port), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run is stripesync status: it prints one report to stdout, or with -http
// serves the page until ctx is done. When the report printed needs
// attention it returns an *AttentionError (exit status ExitAttention). The
// database is DATABASE_URL, defaultDatabaseURL when unset. For -h it prints
// the usage and returns an error wrapping flag.ErrHelp.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, defaultDatabaseURL string) error {
	cfg, err := parseConfig(args, getenv, stdout, defaultDatabaseURL)
	if err != nil {
		return err
	}
	pool, err := connectReadOnly(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The connection retries in the background: a NATS server that is
	// down is reported as such, beside what PostgreSQL tells.
	nc, err := nats.Connect(cfg.NATSURL, nats.Name("stripesync status"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	gather := func(ctx context.Context) Report { return Gather(ctx, pool, js) }

	if cfg.HTTP != "" {
		ln, err := net.Listen("tcp", cfg.HTTP)
		if err != nil {
			return fmt.Errorf("http: %w", err)
		}
		fmt.Fprintf(stdout, "stripesync status: serving http://%s/ (Ctrl-C stops)\n", ln.Addr())
		p := &Page{GatherFunc: gather, Thresholds: cfg.Thresholds}
		return p.Serve(ctx, ln)
	}

	gctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	r := gather(gctx)
	cancel()
	r.Thresholds = cfg.Thresholds
	if cfg.JSON {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if att := r.Attention(); len(att) > 0 {
		return &AttentionError{Reasons: att}
	}
	return nil
}

// connectReadOnly opens a small pool whose every transaction is read-only
// (default_transaction_read_only), so that status can run with the mirror's
// own role and still change nothing. It connects lazily: a database that
// is down is reported in the report.
func connectReadOnly(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := db.PoolConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.ConnConfig.RuntimeParams["application_name"] = "stripesync status"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect database: %w", err)
	}
	return pool, nil
}
