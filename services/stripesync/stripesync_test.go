package stripesync_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/services/stripesync"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgxpool's background health check ends shortly after Close.
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

// syncBuffer is what dev prints, written by its goroutine and read by the
// test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHelp(t *testing.T) {
	t.Parallel()

	t.Run("CommandListsItsCommands", func(t *testing.T) {
		t.Parallel()
		for _, arg := range []string{"-h", "--help"} {
			var out bytes.Buffer
			require.ErrorIs(t, stripesync.Run(t.Context(), []string{arg}, func(string) string { return "" }, &out), flag.ErrHelp)
			require.Contains(t, out.String(), "usage: stripesync <command> [flags]")
			require.Contains(t, out.String(), "  dev ")
		}
	})

	t.Run("DevListsOnlyItsOwnFlags", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		require.ErrorIs(t, stripesync.Run(t.Context(), []string{"dev", "-h"}, func(string) string { return "" }, &out), flag.ErrHelp)
		help := out.String()
		require.Regexp(t, `^stripesync dev runs the whole mirror in one process`, help, "a description first")
		require.Contains(t, help, "usage: stripesync dev [flags]")
		for _, env := range []string{"STRIPESYNC_DATA_DIR", "NATS_URL", "DATABASE_URL", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "INGEST_ADDR", "PROCESSOR_ADDR", "SYNCER_ADDR"} {
			require.Contains(t, help, "(env "+env+")")
		}
		require.NotContains(t, help, "PROCESSOR_BATCH_SIZE", "a service's own settings are the service's")
	})

	t.Run("ReconcileHelpNeedsNoDatabase", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		require.ErrorIs(t, stripesync.Run(t.Context(), []string{"reconcile", "-h"}, func(string) string { return "" }, &out), flag.ErrHelp)
		require.Regexp(t, `^stripesync reconcile lists resources completely`, out.String(), "a description first")
		require.Contains(t, out.String(), "usage: stripesync reconcile")
		require.Contains(t, out.String(), "-wait duration")
	})

	t.Run("UnknownCommandFails", func(t *testing.T) {
		t.Parallel()
		err := stripesync.Run(t.Context(), []string{"prod"}, func(string) string { return "" }, &bytes.Buffer{})
		require.ErrorContains(t, err, `unknown command "prod"`)
	})
}

// TestDev runs stripesync dev twice on one data directory and one database,
// on free ports, against the fake Stripe: the first run fills the mirror
// from the fake's backfill and webhooks, the second continues from there.
func TestDev(t *testing.T) {
	t.Parallel()

	const demoCustomers = 4
	dataDir := t.TempDir()
	dbURL := dbtest.NewURL(t)
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	env := map[string]string{
		"STRIPESYNC_DATA_DIR":       dataDir,
		"DATABASE_URL":              dbURL,
		"STRIPESYNC_NATS_ADDR":      "127.0.0.1:0",
		"INGEST_ADDR":               "127.0.0.1:0",
		"PROCESSOR_ADDR":            "127.0.0.1:0",
		"SYNCER_ADDR":               "127.0.0.1:0",
		"STRIPESYNC_DEMO_CUSTOMERS": strconv.Itoa(demoCustomers),
		"STRIPESYNC_DEMO_INTERVAL":  "100ms",
		"SHUTDOWN_TIMEOUT":          "5s",
		"LOG_LEVEL":                 "debug",
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(dataDir, "logs", "*.log"))
		for _, name := range logs {
			b, _ := os.ReadFile(name)
			t.Logf("%s:\n%s", filepath.Base(name), b)
		}
	})

	// start runs dev until the returned function cancels it; that function
	// requires dev to return nil, promptly.
	start := func(t *testing.T) func() {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- stripesync.Run(ctx, []string{"dev"}, func(k string) string { return env[k] }, out) }()
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("stripesync dev printed:\n%s", out)
			}
		})
		return func() {
			t.Helper()
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(20 * time.Second):
				t.Fatal("dev did not return within 20s of the cancel")
			}
			require.Contains(t, out.String(), "Stop: Ctrl-C", "where to look was printed")
		}
	}
	count := func(t *testing.T, query string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(t.Context(), query, args...).Scan(&n))
		return n
	}
	// customers counts the rows of stripe.customers per account ("" for
	// the platform); before the migrations there are none.
	customers := func(t *testing.T) map[string]int {
		t.Helper()
		rows, err := pool.Query(t.Context(), "SELECT coalesce(account, ''), count(*) FROM stripe.customers GROUP BY 1")
		if err != nil {
			return nil
		}
		defer rows.Close()
		m := map[string]int{}
		for rows.Next() {
			var account string
			var n int
			require.NoError(t, rows.Scan(&account, &n))
			m[account] = n
		}
		require.NoError(t, rows.Err())
		return m
	}
	events := func(t *testing.T, typ string) int {
		t.Helper()
		return count(t, "SELECT count(*) FROM stripe.events WHERE type = $1", typ)
	}

	connected := func(t *testing.T) []string {
		t.Helper()
		rows, err := pool.Query(t.Context(), "SELECT id FROM stripe.accounts ORDER BY id")
		if err != nil {
			return nil
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return ids
	}

	stop := start(t)
	require.Eventually(t, func() bool {
		accounts := connected(t)
		if len(accounts) != 2 {
			return false
		}
		m := customers(t)
		// The backfill brings every seeded customer, the webhooks more.
		return m[""] >= demoCustomers && m[accounts[0]] >= demoCustomers && m[accounts[1]] >= demoCustomers
	}, 90*time.Second, 100*time.Millisecond, "customers of the platform and of both connected accounts")
	require.Eventually(t, func() bool {
		return events(t, "customer.updated") > 0 && events(t, "v1.customer.updated") > 0
	}, 30*time.Second, 100*time.Millisecond, "webhooks, snapshot and thin, in stripe.events")
	stop()

	before := customers(t)
	eventsBefore := count(t, "SELECT count(*) FROM stripe.events")
	stop = start(t)
	require.Eventually(t, func() bool {
		return count(t, "SELECT count(*) FROM stripe.events") > eventsBefore
	}, 60*time.Second, 100*time.Millisecond, "the second run takes webhooks too")
	after := customers(t)
	for account, n := range before {
		require.GreaterOrEqual(t, after[account], n, "the second run keeps the first one's rows (account %q)", account)
	}
	stop()
}
