package rebuild_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/processor/internal/store"
	"github.com/stripesync/stripesync/services/processor/rebuild"
)

func TestSources(t *testing.T) {
	t.Parallel()
	got := rebuild.Sources([]*catalog.Resource{catalog.MustLookup("subscription_item")})
	require.Contains(t, got, catalog.MustLookup("subscription"))
	require.Contains(t, got, catalog.MustLookup("subscription_item"))
	require.NotContains(t, got, catalog.MustLookup("customer"))
	require.Len(t, rebuild.Sources(nil), len(catalog.All()))
}

type testBundle struct {
	pool  *pgxpool.Pool
	store *store.Store
	base  time.Time
}

// row is what a relation holds of an object, but updated_at.
type row struct {
	Data        map[string]any
	Deleted     bool
	StateAt     time.Time
	LastEventID *string
}

func TestRun(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		pool := dbtest.New(t)
		return &testBundle{pool: pool, store: store.New(pool), base: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	}
	event := func(t *testing.T, id, typ string, at time.Time, obj map[string]any) store.Event {
		t.Helper()
		e := eventstest.NewEvent(id, typ, obj)
		e.Created = at
		raw := e.JSON(t)
		env, err := events.ParseEnvelope(raw)
		require.NoError(t, err)
		return store.Event{Envelope: env, Raw: raw}
	}
	customer := func(t *testing.T, id, name string) map[string]any {
		return eventstest.With(eventstest.Object(t, "customer"), map[string]any{"id": id, "name": name})
	}
	subscription := func(t *testing.T, itemIDs ...string) map[string]any {
		var items []any
		for _, id := range itemIDs {
			items = append(items, eventstest.With(eventstest.Object(t, "subscription_item"), map[string]any{"id": id, "subscription": "sub_r"}))
		}
		return eventstest.With(eventstest.Object(t, "subscription"), map[string]any{
			"id":    "sub_r",
			"items": map[string]any{"object": "list", "data": items, "has_more": false, "url": "/v1/subscription_items?subscription=sub_r"},
		})
	}
	// fill applies events as the processor would: a customer changed
	// twice, a tie of two events in one batch (the later in stream order
	// wins, though its id sorts first), a subscription whose items changed,
	// and a backfilled customer no event holds.
	fill := func(t *testing.T, b *testBundle) {
		t.Helper()
		batches := [][]store.Event{
			{event(t, "evt_c1", "customer.created", b.base, customer(t, "cus_r", "Old"))},
			{event(t, "evt_s1", "customer.subscription.created", b.base, subscription(t, "si_a", "si_b"))},
			{event(t, "evt_c2", "customer.updated", b.base.Add(2*time.Second), customer(t, "cus_r", "New"))},
			{event(t, "evt_s2", "customer.subscription.updated", b.base.Add(3*time.Second), subscription(t, "si_b", "si_c"))},
			{
				event(t, "evt_t2", "customer.updated", b.base, customer(t, "cus_tie", "Earlier in stream")),
				event(t, "evt_t1", "customer.updated", b.base, customer(t, "cus_tie", "Later in stream")),
			},
		}
		for _, evs := range batches {
			_, err := b.store.Apply(t.Context(), store.Batch{Events: evs})
			require.NoError(t, err)
		}
		data, err := json.Marshal(customer(t, "cus_bf", "Backfilled"))
		require.NoError(t, err)
		_, err = b.store.Apply(t.Context(), store.Batch{Objects: []events.Object{{
			Resource: catalog.MustLookup("customer"), ID: "cus_bf", Data: data, FetchedAt: b.base.Add(time.Hour),
		}}})
		require.NoError(t, err)
	}
	relation := func(t *testing.T, b *testBundle, table string) map[string]row {
		t.Helper()
		rows, err := b.pool.Query(t.Context(), "SELECT id, data, deleted, state_at, last_event_id FROM stripe."+table)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]row{}
		for rows.Next() {
			var id string
			var data []byte
			var r row
			require.NoError(t, rows.Scan(&id, &data, &r.Deleted, &r.StateAt, &r.LastEventID))
			require.NoError(t, json.Unmarshal(data, &r.Data))
			out[id] = r
		}
		require.NoError(t, rows.Err())
		return out
	}
	exec := func(t *testing.T, b *testBundle, sql string) {
		t.Helper()
		_, err := b.pool.Exec(t.Context(), sql)
		require.NoError(t, err)
	}
	change := func(rep rebuild.Report, relation string) rebuild.Change {
		for _, c := range rep.Changes {
			if c.Resource.Relation() == relation {
				return c
			}
		}
		return rebuild.Change{}
	}
	tables := []string{"customers", "subscriptions", "subscription_items"}

	t.Run("RestoresDamagedRelations", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		fill(t, b)
		want := map[string]map[string]row{}
		for _, table := range tables {
			want[table] = relation(t, b, table)
		}
		require.True(t, want["subscription_items"]["si_a"].Deleted, "si_a left the list")
		require.Equal(t, "Later in stream", want["customers"]["cus_tie"].Data["name"])

		// Damage: items lost, a removed item live again, a customer
		// holding garbage as an older state.
		exec(t, b, "DELETE FROM stripe.subscription_items WHERE id IN ('si_b', 'si_c')")
		exec(t, b, "UPDATE stripe.subscription_items SET deleted = false WHERE id = 'si_a'")
		exec(t, b, `UPDATE stripe.customers SET data = '{"id": "cus_r", "object": "customer", "name": "garbage"}',
			state_at = state_at - interval '1 hour', last_event_id = NULL WHERE id = 'cus_r'`)

		rep, err := rebuild.Run(t.Context(), b.pool, nil, rebuild.Options{BatchSize: 2}) // 2 a batch: every page boundary is crossed
		require.NoError(t, err)
		for _, table := range tables {
			require.Equal(t, want[table], relation(t, b, table), table)
		}
		require.Equal(t, rebuild.Change{Resource: catalog.MustLookup("customer"), Rows: 3, Rewritten: 1}, change(rep, "customers"))
		require.Equal(t, rebuild.Change{Resource: catalog.MustLookup("subscription_item"), Rows: 3, Added: 2, Deleted: 1}, change(rep, "subscription_items"))
		require.Equal(t, rebuild.Change{Resource: catalog.MustLookup("subscription"), Rows: 1}, change(rep, "subscriptions"))
	})

	t.Run("NamedRelationOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		fill(t, b)
		want := relation(t, b, "subscription_items")
		exec(t, b, "DELETE FROM stripe.subscription_items")
		exec(t, b, `UPDATE stripe.customers SET data = '{"id": "cus_r", "object": "customer", "name": "garbage"}' WHERE id = 'cus_r'`)

		rep, err := rebuild.Run(t.Context(), b.pool, []*catalog.Resource{catalog.MustLookup("subscription_item")}, rebuild.Options{})
		require.NoError(t, err)
		// si_a had left the list before the rows were lost: only the older
		// subscription state held it, and an older state cannot be written
		// over the stored one, so its deleted row is not brought back.
		delete(want, "si_a")
		require.Equal(t, want, relation(t, b, "subscription_items"))
		require.Equal(t, "garbage", relation(t, b, "customers")["cus_r"].Data["name"], "customers were not named")
		require.Equal(t, 2, change(rep, "subscription_items").Added)
		require.Zero(t, change(rep, "customers").Rows, "customers were not read")
	})

	t.Run("IntactMirrorUnchanged", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		fill(t, b)
		want := map[string]map[string]row{}
		for _, table := range tables {
			want[table] = relation(t, b, table)
		}
		rep, err := rebuild.Run(t.Context(), b.pool, nil, rebuild.Options{})
		require.NoError(t, err)
		for _, table := range tables {
			require.Equal(t, want[table], relation(t, b, table), table)
		}
		for _, c := range rep.Changes {
			require.Zero(t, c.Rewritten+c.Added+c.Deleted, c.Resource.Relation())
		}
	})

	t.Run("ObjectsFromTheStream", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ns := eventstest.RunServer(t)
		nc, err := nats.Connect(ns.ClientURL())
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		stream, err := events.DeclareStream(t.Context(), js, events.DefaultStreamOptions)
		require.NoError(t, err)

		// An item past the ten its subscription holds, as a backfill
		// publishes it, and as the processor applies it.
		data, err := json.Marshal(eventstest.With(eventstest.Object(t, "subscription_item"), map[string]any{"id": "si_x", "subscription": "sub_r"}))
		require.NoError(t, err)
		item := events.Object{Resource: catalog.MustLookup("subscription_item"), ID: "si_x", Parent: "sub_r", Data: data, FetchedAt: b.base.Add(time.Hour)}
		_, err = js.PublishMsg(t.Context(), item.Msg())
		require.NoError(t, err)
		_, err = js.PublishMsg(t.Context(), &nats.Msg{Subject: "stripe.object.customer", Data: []byte("not an object")})
		require.NoError(t, err)
		_, err = b.store.Apply(t.Context(), store.Batch{Objects: []events.Object{item}})
		require.NoError(t, err)
		fill(t, b)
		want := relation(t, b, "subscription_items")
		require.Contains(t, want, "si_x")
		exec(t, b, "DELETE FROM stripe.subscription_items")

		rep, err := rebuild.Run(t.Context(), b.pool, []*catalog.Resource{catalog.MustLookup("subscription_item")}, rebuild.Options{Stream: stream})
		require.NoError(t, err)
		require.Equal(t, 1, rep.Objects)
		require.Equal(t, 1, rep.Skipped, "the message the processor could not apply either")
		delete(want, "si_a") // see NamedRelationOnly
		require.Equal(t, want, relation(t, b, "subscription_items"))
	})

	t.Run("DeletedRowStaysDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		fill(t, b)
		_, err := b.store.Apply(t.Context(), store.Batch{Events: []store.Event{
			event(t, "evt_d", "customer.deleted", b.base.Add(4*time.Second), customer(t, "cus_r", "New")),
		}})
		require.NoError(t, err)
		exec(t, b, "DELETE FROM stripe.customers WHERE id = 'cus_r'")

		_, err = rebuild.Run(t.Context(), b.pool, []*catalog.Resource{catalog.MustLookup("customer")}, rebuild.Options{})
		require.NoError(t, err)
		got := relation(t, b, "customers")["cus_r"]
		require.True(t, got.Deleted, "restored from its events, the deletion last")
		require.Equal(t, "evt_d", *got.LastEventID)
	})
}
