package syncer

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
)

// processorBin is the processor, built once: the syncer's objects reach
// PostgreSQL only through it, and these tests check PostgreSQL.
// stripeMockBin is Stripe's own mock of its API (a tool of this module).
var processorBin, stripeMockBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "syncer-test-")
	if err != nil {
		panic(err)
	}
	processorBin = filepath.Join(dir, "processor")
	stripeMockBin = filepath.Join(dir, "stripe-mock")
	for bin, pkg := range map[string]string{
		processorBin:  "github.com/stripesync/stripesync/services/processor/cmd/processor",
		stripeMockBin: "github.com/stripe/stripe-mock",
	} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg+":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type testBundle struct {
	fake    *stripefake.Server
	nats    *eventstest.Server
	js      jetstream.JetStream
	pool    *pgxpool.Pool
	dbURL   string
	env     map[string]string
	started bool
}

func setup(t *testing.T, opts stripefake.Options, seed stripefake.SeedOptions) *testBundle {
	t.Helper()
	fake := stripefake.New(opts)
	seed.RandSeed = 7
	require.NoError(t, stripefake.Seed(fake, seed))
	url := fake.Start(t)
	ns := eventstest.RunServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	dbURL := dbtest.NewURL(t)
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return &testBundle{
		fake: fake, nats: ns, js: js, pool: pool, dbURL: dbURL,
		env: map[string]string{
			"STRIPE_API_KEY":     stripefake.TestKey,
			"STRIPE_API_BASE":    url,
			"NATS_URL":           ns.ClientURL(),
			"SYNCER_RATE_LIMIT":  "1000",
			"SYNCER_CONCURRENCY": "8",
			"LOG_LEVEL":          "info",
		},
	}
}

func (b *testBundle) syncer(ctx context.Context, t *testing.T, args ...string) error {
	t.Helper()
	return Run(ctx, args, func(k string) string { return b.env[k] }, t.Output())
}

// startProcessor runs the processor binary until the test ends.
func (b *testBundle) startProcessor(t *testing.T) {
	t.Helper()
	if b.started {
		return
	}
	b.started = true
	cmd := exec.Command(processorBin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+b.dbURL, "NATS_URL="+b.nats.ClientURL(),
		"PROCESSOR_ADDR="+eventstest.FreeAddr(t), "LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
}

// applied waits until the processor has applied everything on the stream.
func (b *testBundle) applied(t *testing.T) {
	t.Helper()
	b.startProcessor(t)
	eventstest.WaitProcessed(t, b.js, 60*time.Second)
}

// ids returns the ids in a relation for one account ("" the platform).
func (b *testBundle) ids(t *testing.T, table, account string, where string, args ...any) []string {
	t.Helper()
	q := "SELECT id FROM stripe." + table + " WHERE account IS NOT DISTINCT FROM NULLIF($1, '')"
	if where != "" {
		q += " AND " + where
	}
	rows, err := b.pool.Query(t.Context(), q, append([]any{account}, args...)...)
	require.NoError(t, err)
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	sort.Strings(ids)
	return ids
}

func sorted(ids []string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}

// topLevel are the resources listed account-wide, object → relation.
var topLevel = accountWide()

// requireComplete checks that the mirror holds exactly the fake's objects,
// whole, for the platform and every connected account.
func (b *testBundle) requireComplete(t *testing.T) {
	t.Helper()
	accounts := append([]string{""}, b.fake.ConnectedAccounts()...)
	require.Equal(t, sorted(b.fake.ConnectedAccounts()), b.ids(t, "accounts", "", ""))
	for _, acct := range accounts {
		for object, table := range topLevel {
			want := sorted(b.fake.IDs(acct, object))
			require.Equal(t, want, b.ids(t, table, acct, ""), "%s of account %q", table, acct)
		}
		// Nested lists, paged to their end.
		for _, inv := range b.fake.IDs(acct, "invoice") {
			require.Equal(t, sorted(b.fake.ChildIDs(acct, "line_item", inv)), b.ids(t, "invoice_line_items", acct, "parent = $2", inv), "lines of %s", inv)
		}
		for _, sub := range b.fake.IDs(acct, "subscription") {
			require.Equal(t, sorted(b.fake.ChildIDs(acct, "subscription_item", sub)), b.ids(t, "subscription_items", acct, "subscription = $2", sub), "items of %s", sub)
		}
		for _, cus := range b.fake.IDs(acct, "customer") {
			require.Equal(t, sorted(b.fake.ChildIDs(acct, "payment_method", cus)), b.ids(t, "payment_methods", acct, "customer = $2", cus), "payment methods of %s", cus)
			require.Equal(t, sorted(b.fake.ChildIDs(acct, "tax_id", cus)), b.ids(t, "tax_ids", acct, "customer = $2", cus), "tax ids of %s", cus)
			for object, table := range map[string]string{"card": "cards", "bank_account": "bank_accounts", "source": "sources"} {
				require.Equal(t, sorted(b.fake.ChildIDs(acct, object, cus)), b.ids(t, table, acct, "customer = $2", cus), "%s of %s", table, cus)
			}
		}
		for _, cn := range b.fake.IDs(acct, "credit_note") {
			require.Equal(t, sorted(b.fake.ChildIDs(acct, "credit_note_line_item", cn)), b.ids(t, "credit_note_line_items", acct, "parent = $2", cn), "lines of %s", cn)
		}
		for _, cs := range b.fake.IDs(acct, "checkout.session") {
			require.Equal(t, sorted(b.fake.ChildIDs(acct, "item", cs)), b.ids(t, "checkout_session_line_items", acct, "parent = $2", cs), "line items of %s", cs)
		}
	}
	// External accounts, listed by the platform for each connected account.
	for _, ca := range b.fake.ConnectedAccounts() {
		have := append(b.ids(t, "bank_accounts", "", "connected_account = $2", ca), b.ids(t, "cards", "", "connected_account = $2", ca)...)
		require.Equal(t, sorted(b.fake.ExternalAccountIDs(ca)), sorted(have), "external accounts of %s", ca)
	}
	// Nothing in the fake is deleted, so nothing in the mirror is either.
	for _, rel := range relations() {
		var deleted int
		require.NoError(t, b.pool.QueryRow(t.Context(), "SELECT count(*) FROM stripe."+rel+" WHERE deleted").Scan(&deleted))
		require.Zero(t, deleted, "deleted rows in stripe.%s", rel)
	}
	// Contents: each object as the API renders it.
	for object, table := range topLevel {
		for _, id := range b.fake.IDs("", object) {
			want, ok := b.fake.Object("", object, id)
			require.True(t, ok)
			var data []byte
			require.NoError(t, b.pool.QueryRow(t.Context(), "SELECT data FROM stripe."+table+" WHERE id = $1", id).Scan(&data))
			wantJSON, err := json.Marshal(want)
			require.NoError(t, err)
			require.JSONEq(t, string(wantJSON), string(data), "%s %s", table, id)
		}
	}
}

func TestBackfill(t *testing.T) {
	t.Parallel()

	t.Run("SeededAccountEndsUpCompleteInPostgres", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 40, ConnectedAccounts: 2, ConnectedCustomers: 10})
		require.NoError(t, b.syncer(t.Context(), t, "backfill"))
		b.applied(t)
		b.requireComplete(t)

		// The hard cases are there: canceled subscriptions, long invoices,
		// an account with more than ten external accounts.
		require.NotZero(t, len(b.ids(t, "subscriptions", "", "status = 'canceled'")))
		var longest int
		require.NoError(t, b.pool.QueryRow(t.Context(),
			"SELECT max(n) FROM (SELECT count(*) AS n FROM stripe.invoice_line_items GROUP BY parent) AS c").Scan(&longest))
		require.Greater(t, longest, 10)
		require.NoError(t, b.pool.QueryRow(t.Context(),
			`SELECT max(n) FROM (SELECT count(*) AS n FROM (
				SELECT connected_account FROM stripe.bank_accounts UNION ALL SELECT connected_account FROM stripe.cards
			) AS e WHERE connected_account IS NOT NULL GROUP BY connected_account) AS c`).Scan(&longest))
		require.Greater(t, longest, 10)
	})

	t.Run("RateLimitStormsSlowItDownButLoseNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{Force429Func: stripefake.StormFunc(40, 6)}, stripefake.SeedOptions{Customers: 15, ConnectedAccounts: 1, ConnectedCustomers: 3})
		require.NoError(t, b.syncer(t.Context(), t, "backfill"))
		require.NotZero(t, b.fake.Stats().RateLimited)
		b.applied(t)
		b.requireComplete(t)
	})

	t.Run("KilledBackfillResumesWithoutStartingOver", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{Latency: 2 * time.Millisecond}, stripefake.SeedOptions{Customers: 40})
		b.env["SYNCER_CONCURRENCY"] = "2"
		// Kill it once part of the account is on the stream.
		ctx, cancel := context.WithCancel(t.Context())
		stream, err := b.js.Stream(t.Context(), events.StreamName)
		if err != nil { // the syncer creates the stream
			stream = nil
		}
		go func() {
			for ctx.Err() == nil {
				if stream == nil {
					stream, _ = b.js.Stream(ctx, events.StreamName)
				} else if info, err := stream.Info(ctx); err == nil && info.State.Msgs > 300 {
					cancel()
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
		err = b.syncer(ctx, t, "backfill")
		cancel()
		require.ErrorContains(t, err, "incomplete")
		firstRun := b.fake.Stats().Requests

		require.NoError(t, b.syncer(t.Context(), t, "backfill"))
		secondRun := b.fake.Stats().Requests - firstRun
		b.applied(t)
		b.requireComplete(t)

		// A fresh run of the same account, for comparison.
		fresh := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 40})
		require.NoError(t, fresh.syncer(t.Context(), t, "backfill"))
		require.Less(t, secondRun, fresh.fake.Stats().Requests, "the resumed run started over")
	})
}

func TestEventsCatchUpRepairsADroppedWebhook(t *testing.T) {
	t.Parallel()
	var dropped stripefake.Event
	b := setup(t, stripefake.Options{
		WebhookURL:      "http://" + eventstest.FreeAddr(t) + "/nobody", // deliveries fail or are dropped
		DropWebhookFunc: func(ev stripefake.Event) bool { dropped = ev; return true },
	}, stripefake.SeedOptions{Customers: 3})
	require.NoError(t, b.syncer(t.Context(), t, "backfill", "-resources", "customers"))
	b.applied(t)

	cus := b.fake.IDs("", "customer")[0]
	_, err := b.fake.UpdateCustomer("", cus, map[string]any{"name": "Renamed while the endpoint was down"})
	require.NoError(t, err)
	require.NotEmpty(t, dropped.ID)

	require.NoError(t, b.syncer(t.Context(), t, "events", "-since", "1h", "-failed"))
	b.applied(t)
	var name string
	require.NoError(t, b.pool.QueryRow(t.Context(), "SELECT data->>'name' FROM stripe.customers WHERE id = $1", cus).Scan(&name))
	require.Equal(t, "Renamed while the endpoint was down", name)
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), "SELECT count(*) FROM stripe.events WHERE id = $1", dropped.ID).Scan(&n))
	require.Equal(t, 1, n)
}

func TestServe(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{
		WebhookURL:      "http://" + eventstest.FreeAddr(t) + "/nobody",
		DropWebhookFunc: func(stripefake.Event) bool { return true },
	}, stripefake.SeedOptions{Customers: 5})
	// A sync request made while no replica runs waits in the stream.
	var out strings.Builder
	require.NoError(t, Run(t.Context(), []string{"request", "-resources", "customers"}, func(k string) string { return b.env[k] }, &out))
	require.Contains(t, out.String(), `"queued":true`)
	var reply syncReply
	require.NoError(t, json.Unmarshal([]byte(out.String()), &reply))

	addr := eventstest.FreeAddr(t)
	b.env["SYNCER_ADDR"] = addr
	b.env["SYNCER_BACKFILL_INTERVAL"] = "0"
	b.env["SYNCER_EVENTS_INTERVAL"] = "200ms"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.syncer(ctx, t, "serve") }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	b.startProcessor(t)

	// The replica takes the request queued before it started.
	require.Eventually(t, func() bool {
		return len(b.ids(t, "customers", "", "")) == len(b.fake.IDs("", "customer"))
	}, 20*time.Second, 50*time.Millisecond)
	kv, err := b.js.KeyValue(t.Context(), events.StateBucket)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		e, err := kv.Get(t.Context(), events.SyncRunKey(reply.Run))
		var run events.SyncRun
		return err == nil && json.Unmarshal(e.Value(), &run) == nil && run.State == events.RunDone
	}, 20*time.Second, 50*time.Millisecond, "the run's record says done")

	// A webhook that never arrived is repaired by the periodic catch-up.
	cus := b.fake.IDs("", "customer")[0]
	_, err = b.fake.UpdateCustomer("", cus, map[string]any{"email": "repaired@example.com"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return len(b.ids(t, "customers", "", "email = 'repaired@example.com'")) == 1
	}, 20*time.Second, 50*time.Millisecond)

	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	metrics, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(metrics), `stripe_sync_syncer_objects_published_total{resource="customers"}`)
	require.Contains(t, string(metrics), `stripe_sync_syncer_backfills_total{outcome="done"} 1`)
	require.Contains(t, string(metrics), `stripe_sync_syncer_api_endpoint_requests_total{endpoint="GET /v1/customers"}`, "requests per endpoint, each with its own limit")
}

// TestServeCatchesUpThinEvents runs serve with SYNCER_THIN_EVENTS against
// an account whose thin event destination lost a delivery: the periodic
// catch-up lists /v2/core/events and stores the thin event as ingest would,
// from a cursor of its own.
func TestServeCatchesUpThinEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{
		WebhookURL:      "http://" + eventstest.FreeAddr(t) + "/nobody",
		ThinEvents:      true,
		DropWebhookFunc: func(stripefake.Event) bool { return true },
	}, stripefake.SeedOptions{Customers: 3, ConnectedAccounts: 1})
	addr := eventstest.FreeAddr(t)
	b.env["SYNCER_ADDR"] = addr
	b.env["SYNCER_BACKFILL_INTERVAL"] = "0"
	b.env["SYNCER_EVENTS_INTERVAL"] = "200ms"
	b.env["SYNCER_THIN_EVENTS"] = "true"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.syncer(ctx, t, "serve") }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	acct := b.fake.ConnectedAccounts()[0]
	lost, err := b.fake.UpdateCustomer(acct, b.fake.IDs(acct, "customer")[0], map[string]any{"name": "Lost thin webhook"})
	require.NoError(t, err)
	require.False(t, lost.Delivered)

	var m *jetstream.RawStreamMsg
	require.Eventually(t, func() bool {
		stream, err := b.js.Stream(t.Context(), events.StreamName) // serve creates it
		if err != nil {
			return false
		}
		m, err = stream.GetLastMsgForSubject(t.Context(), "stripe.event.v1.customer.updated")
		return err == nil && m.Header.Get(nats.MsgIdHdr) == lost.ThinID
	}, 20*time.Second, 50*time.Millisecond, "the lost thin event never reached the stream")
	env, err := events.ParseEnvelope(m.Data)
	require.NoError(t, err)
	require.Equal(t, acct, env.Account)
	require.Equal(t, lost.ID, env.Thin.SnapshotEvent)

	kv, err := b.js.KeyValue(t.Context(), events.StateBucket)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		e, err := kv.Get(t.Context(), events.ThinEventsCursorKey(acct))
		if err != nil {
			return false
		}
		at, err := time.Parse(time.RFC3339, string(e.Value()))
		return err == nil && !at.Before(lost.Created)
	}, 10*time.Second, 50*time.Millisecond, "the thin cursor did not move on")
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "--help", "help"} {
		var out strings.Builder
		require.ErrorIs(t, Run(t.Context(), []string{arg}, func(string) string { return "" }, &out), flag.ErrHelp, arg)
		require.Regexp(t, `^syncer backfills the mirror`, out.String(), "a description first")
		require.Contains(t, out.String(), "usage: syncer <command> [flags]")
		require.Contains(t, out.String(), "  backfill ")
	}
}

func TestUsageAndConfigErrors(t *testing.T) {
	t.Parallel()
	env := func(k string) string { return map[string]string{"STRIPE_API_KEY": "sk_test_x"}[k] }
	require.ErrorContains(t, Run(t.Context(), nil, env, io.Discard), "usage")
	require.ErrorContains(t, Run(t.Context(), []string{"dance"}, env, io.Discard), "unknown command")
	require.ErrorContains(t, Run(t.Context(), []string{"backfill"}, func(string) string { return "" }, io.Discard), "STRIPE_API_KEY")
	require.ErrorContains(t, Run(t.Context(), []string{"backfill", "-since", "last tuesday"}, env, io.Discard), "since")
	require.ErrorContains(t, Run(t.Context(), []string{"backfill", "-resources", "unicorns"}, env, io.Discard), "unicorns")
	thinEnv := func(k string) string {
		return map[string]string{"STRIPE_API_KEY": "sk_test_x", "SYNCER_THIN_EVENTS": "sometimes"}[k]
	}
	require.ErrorContains(t, Run(t.Context(), []string{"serve"}, thinEnv, io.Discard), "SYNCER_THIN_EVENTS")
	require.ErrorContains(t, Run(t.Context(), []string{"events", "-thin", "-failed"}, env, io.Discard), "-thin and -failed")
}

// TestAgainstStripeMock runs every backfill rule and the events catch-up
// against stripe-mock, which answers from Stripe's OpenAPI specification and
// refuses parameters the real API would refuse: the requests fit Stripe's
// API, and its objects parse and reach the stream as the right resources.
func TestAgainstStripeMock(t *testing.T) {
	t.Parallel()
	// Both listeners on free loopback ports: with -http-addr alone,
	// stripe-mock also serves HTTPS on :12112, on every interface.
	addr := eventstest.FreeAddr(t)
	mock := exec.Command(stripeMockBin, "-http-addr", addr, "-https-addr", eventstest.FreeAddr(t))
	mock.Stdout, mock.Stderr = t.Output(), t.Output()
	require.NoError(t, mock.Start())
	t.Cleanup(func() { mock.Process.Kill(); mock.Wait() })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/v1/customers")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, 30*time.Second, 50*time.Millisecond)

	ns := eventstest.RunServer(t)
	env := map[string]string{
		"STRIPE_API_KEY": "sk_test_123", "STRIPE_API_BASE": "http://" + addr, "NATS_URL": ns.ClientURL(),
		"SYNCER_RATE_LIMIT": "1000", "LOG_LEVEL": "warn",
	}
	getenv := func(k string) string { return env[k] }
	listed, err := backfill.Select(nil)
	require.NoError(t, err)
	for _, res := range listed {
		require.NoError(t, Run(t.Context(), []string{"backfill", "-resources", res.Object, "-since", "2020-01-01"}, getenv, t.Output()), res.Object)
	}
	require.NoError(t, Run(t.Context(), []string{"events", "-since", "24h", "-failed", "-type", "invoice.*"}, getenv, t.Output()))

	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(t.Context(), events.StreamName)
	require.NoError(t, err)
	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	seen := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := stream.GetMsg(t.Context(), seq)
		require.NoError(t, err)
		if strings.HasPrefix(m.Subject, events.EventSubjectPrefix) {
			_, err := events.ParseEnvelope(m.Data)
			require.NoError(t, err, "event %d", seq)
			seen["events"]++
			continue
		}
		// The object, and the nested items and embedded objects the
		// processor stores from it.
		objects, err := streamedObjects(m.Subject, m.Header, m.Data)
		require.NoError(t, err, "message %d on %s", seq, m.Subject)
		for _, o := range objects {
			seen[o]++
		}
	}
	for _, object := range objectNames() {
		if object == "card" || object == "source" {
			continue // stripe-mock answers every sources list with its bank account fixture
		}
		require.NotZero(t, seen[object], "no %s from stripe-mock", object)
	}
	require.NotZero(t, seen["events"])
}

// TestEachCommandBindsOnlyItsSettings: -h lists a command's own settings,
// not serve's schedules for a one-shot backfill, nor the Stripe API's for a
// request, which only queues work.
func TestEachCommandBindsOnlyItsSettings(t *testing.T) {
	t.Parallel()
	names := func(cmd string) []string {
		var cfg config
		var out []string
		newFlags(cmd, &cfg).FlagSet().VisitAll(func(f *flag.Flag) { out = append(out, f.Name) })
		return out
	}
	serveOnly := []string{"syncer-addr", "syncer-backfill-interval", "syncer-events-interval", "syncer-job-ack-wait", "syncer-thin-events", "syncer-events-rate-limit", "shutdown-timeout"}
	api := []string{"stripe-api-key", "stripe-api-base", "syncer-rate-limit", "syncer-endpoint-rate-limit", "syncer-concurrency"}
	for _, f := range append(serveOnly, api...) {
		require.Contains(t, names("serve"), f)
	}
	for _, cmd := range []string{"backfill", "events", "reconcile"} {
		for _, f := range serveOnly {
			require.NotContains(t, names(cmd), f, cmd)
		}
		for _, f := range api {
			require.Contains(t, names(cmd), f, cmd)
		}
	}
	for _, f := range append(serveOnly, api...) {
		require.NotContains(t, names("request"), f)
	}
	require.Contains(t, names("request"), "nats-url")
}
