package ops_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stripesync/stripesync/pkg/ops"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		base      string // http://127.0.0.1:port
		natsDown  *atomic.Bool
		dbDown    *atomic.Bool
		cancelRun func() error // stops Run and returns its error
	}
	setup := func(t *testing.T, cfg ops.Config) *testBundle {
		t.Helper()
		b := &testBundle{natsDown: new(atomic.Bool), dbDown: new(atomic.Bool)}
		cfg.Addr = "127.0.0.1:0"
		cfg.Checks = append(cfg.Checks,
			ops.Check{Name: "nats", Func: func(context.Context) error {
				if b.natsDown.Load() {
					return errors.New("not connected")
				}
				return nil
			}},
			ops.Check{Name: "database", Func: func(ctx context.Context) error {
				if b.dbDown.Load() {
					return errors.New("not reachable")
				}
				return ctx.Err()
			}},
		)
		srv, err := ops.Listen(testLogger(t), cfg)
		require.NoError(t, err)
		b.base = "http://" + srv.Addr()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		var stopped bool
		var runErr error
		b.cancelRun = func() error {
			if !stopped {
				cancel()
				runErr, stopped = <-done, true
			}
			return runErr
		}
		t.Cleanup(func() { require.NoError(t, b.cancelRun()) })
		return b
	}

	t.Run("ServesHealthReadinessAndMetrics", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "stripe_sync_test_things_total", Help: "Things."})
		reg.MustRegister(c)
		c.Add(3)
		b := setup(t, ops.Config{Registry: reg})

		status, body := get(t, b.base+"/healthz")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "ok\n", body)
		status, _ = get(t, b.base+"/readyz")
		require.Equal(t, http.StatusOK, status)
		status, body = get(t, b.base+"/metrics")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, "stripe_sync_test_things_total 3")
	})

	t.Run("FailingChecksAreNamed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, ops.Config{})

		b.natsDown.Store(true)
		status, body := get(t, b.base+"/readyz")
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.Contains(t, body, "nats: not connected")
		require.NotContains(t, body, "database")

		b.dbDown.Store(true)
		_, body = get(t, b.base+"/readyz")
		require.Contains(t, body, "nats: not connected")
		require.Contains(t, body, "database: not reachable")

		b.natsDown.Store(false)
		b.dbDown.Store(false)
		status, _ = get(t, b.base+"/readyz")
		require.Equal(t, http.StatusOK, status)
	})

	t.Run("ExtraRoutes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, ops.Config{Routes: map[string]http.Handler{
			"POST /webhooks/stripe": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("received")) }),
		}})
		resp, err := http.Post(b.base+"/webhooks/stripe", "application/json", strings.NewReader("{}"))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "received", string(body))

		status, _ := get(t, b.base+"/webhooks/stripe")
		require.Equal(t, http.StatusMethodNotAllowed, status)
	})

	t.Run("ShutdownFinishesRequestsInFlight", func(t *testing.T) {
		t.Parallel()
		started, release := make(chan struct{}), make(chan struct{})
		b := setup(t, ops.Config{Routes: map[string]http.Handler{
			"GET /slow": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				close(started)
				<-release
				w.Write([]byte("done"))
			}),
		}})
		type result struct {
			status int
			body   string
		}
		got := make(chan result, 1)
		go func() {
			resp, err := http.Get(b.base + "/slow")
			if err != nil {
				got <- result{body: err.Error()}
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			got <- result{resp.StatusCode, string(body)}
		}()
		<-started
		stopped := make(chan error, 1)
		go func() { stopped <- b.cancelRun() }()
		close(release)
		require.Equal(t, result{http.StatusOK, "done"}, <-got)
		require.NoError(t, <-stopped)

		_, err := http.Get(b.base + "/healthz")
		require.Error(t, err, "the port is released after Run")
	})
}

func TestListenTakenPortNamesTheAddress(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()

	_, err = ops.Listen(testLogger(t), ops.Config{Addr: taken.Addr().String()})
	require.ErrorContains(t, err, taken.Addr().String())
}

func TestCloseReleasesThePort(t *testing.T) {
	t.Parallel()
	srv, err := ops.Listen(testLogger(t), ops.Config{Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	addr := srv.Addr()
	require.NoError(t, srv.Close())
	again, err := ops.Listen(testLogger(t), ops.Config{Addr: addr})
	require.NoError(t, err)
	require.NoError(t, again.Close())
}
