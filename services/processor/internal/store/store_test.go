package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

type testBundle struct {
	pool  *pgxpool.Pool
	store *store.Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := dbtest.New(t)
	return &testBundle{pool: pool, store: store.New(pool)}
}

// event builds a store.Event from an eventstest.Event, through the same
// envelope parser the processor uses.
func event(t *testing.T, e eventstest.Event) store.Event {
	t.Helper()
	raw := e.JSON(t)
	env, err := events.ParseEnvelope(raw)
	require.NoError(t, err)
	return store.Event{Envelope: env, Raw: raw}
}

func apply(t *testing.T, b *testBundle, evs ...store.Event) store.Stats {
	t.Helper()
	stats, err := b.store.Apply(t.Context(), store.Batch{Events: evs})
	require.NoError(t, err)
	return stats
}

type row struct {
	Data        map[string]any
	Deleted     bool
	Account     *string
	Livemode    bool
	StateAt     time.Time
	LastEventID *string
	UpdatedAt   time.Time
}

func getRow(t *testing.T, b *testBundle, table, id string) (row, bool) {
	t.Helper()
	var r row
	var data []byte
	err := b.pool.QueryRow(t.Context(),
		"SELECT data, deleted, account, livemode, state_at, last_event_id, updated_at FROM stripe."+table+" WHERE id = $1", id).
		Scan(&data, &r.Deleted, &r.Account, &r.Livemode, &r.StateAt, &r.LastEventID, &r.UpdatedAt)
	if err != nil {
		return row{}, false
	}
	require.NoError(t, json.Unmarshal(data, &r.Data))
	return r, true
}

func count(t *testing.T, b *testBundle, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

func TestApply(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

	t.Run("ObjectsOfSeveralResourcesLandWhole", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		objects := map[string]string{ // Stripe object → table
			"customer": "customers", "subscription": "subscriptions", "invoice": "invoices",
			"checkout.session": "checkout_sessions", "price": "prices", "charge": "charges",
			"radar.early_fraud_warning": "radar_early_fraud_warnings", "invoiceitem": "invoiceitems",
		}
		var evs []store.Event
		var customerEvent store.Event
		for object := range objects {
			ev := event(t, eventstest.NewEvent("evt_"+object, object+".updated", eventstest.Object(t, object)))
			evs = append(evs, ev)
			if object == "customer" {
				customerEvent = ev
			}
		}
		stats := apply(t, b, evs...)
		require.Equal(t, len(objects), stats.Stored)
		require.Zero(t, stats.Duplicates)
		require.GreaterOrEqual(t, stats.Applied, len(objects), "the objects, and the items they hold")

		for object, table := range objects {
			want := eventstest.Object(t, object)
			got, ok := getRow(t, b, table, want["id"].(string))
			require.True(t, ok, "no row in %s", table)
			require.Equal(t, want, got.Data, "stripe.%s data", table)
			require.Equal(t, "evt_"+object, *got.LastEventID)
		}
		require.Equal(t, len(objects), count(t, b, "SELECT count(*) FROM stripe.events"))

		// The whole event is kept, and its metadata in columns.
		var evData []byte
		var typ, apiVersion string
		require.NoError(t, b.pool.QueryRow(t.Context(),
			"SELECT type, api_version, data FROM stripe.events WHERE id = 'evt_customer'").Scan(&typ, &apiVersion, &evData))
		require.Equal(t, "customer.updated", typ)
		require.Equal(t, "2023-10-16", apiVersion)
		require.JSONEq(t, string(customerEvent.Raw), string(evData))
	})

	t.Run("TypedColumnsFollowTheObject", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sub := eventstest.With(eventstest.Object(t, "subscription"), map[string]any{
			"id": "sub_typed", "customer": "cus_typed", "status": "past_due", "created": 1700000000,
		})
		inv := eventstest.With(eventstest.Object(t, "invoice"), map[string]any{
			"id": "in_typed", "customer": map[string]any{"id": "cus_typed", "object": "customer"}, // expanded
			// The shape of API versions since 2025-03-31.basil.
			"parent": map[string]any{"type": "subscription_details", "subscription_details": map[string]any{"subscription": "sub_typed"}},
			"status": "open", "amount_due": 4200,
		})
		apply(t, b,
			event(t, eventstest.NewEvent("evt_sub", "customer.subscription.updated", sub)),
			event(t, eventstest.NewEvent("evt_inv", "invoice.finalized", inv)))

		var customer, status string
		var created time.Time
		require.NoError(t, b.pool.QueryRow(t.Context(),
			"SELECT customer, status, created FROM stripe.subscriptions WHERE id = 'sub_typed'").Scan(&customer, &status, &created))
		require.Equal(t, "cus_typed", customer)
		require.Equal(t, "past_due", status)
		require.Equal(t, time.Unix(1700000000, 0), created.Local())
		var invCustomer, invSub, invStatus string
		var due int64
		require.NoError(t, b.pool.QueryRow(t.Context(),
			"SELECT customer, subscription, status, amount_due FROM stripe.invoices WHERE id = 'in_typed'").
			Scan(&invCustomer, &invSub, &invStatus, &due))
		require.Equal(t, []any{"cus_typed", "sub_typed", "open", int64(4200)}, []any{invCustomer, invSub, invStatus, due})
	})

	t.Run("DuplicateDeliveryChangesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ev := event(t, eventstest.NewEvent("evt_dup", "customer.updated", eventstest.Object(t, "customer")))
		apply(t, b, ev)
		before, _ := getRow(t, b, "customers", "cus_QXg1o8vcGmoR32")

		require.Equal(t, store.Stats{Duplicates: 1}, apply(t, b, ev))
		require.Equal(t, store.Stats{Stored: 0, Duplicates: 2}, apply(t, b, ev, ev))
		after, _ := getRow(t, b, "customers", "cus_QXg1o8vcGmoR32")
		require.Equal(t, before, after) // not even updated_at moved
		require.Equal(t, 1, count(t, b, "SELECT count(*) FROM stripe.events"))
	})

	t.Run("OlderEventKeepsNewerState", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cus := eventstest.Object(t, "customer")
		newer := eventstest.NewEvent("evt_newer", "customer.updated", eventstest.With(cus, map[string]any{"name": "New"}))
		newer.Created = base.Add(2 * time.Second)
		older := eventstest.NewEvent("evt_older", "customer.updated", eventstest.With(cus, map[string]any{"name": "Old"}))
		older.Created = base

		require.Zero(t, apply(t, b, event(t, newer)).Stale)
		require.Equal(t, 1, apply(t, b, event(t, older)).Stale, "the older state is skipped, and counted")
		got, _ := getRow(t, b, "customers", cus["id"].(string))
		require.Equal(t, "New", got.Data["name"])
		require.Equal(t, newer.Created, got.StateAt.UTC())
		require.Equal(t, 2, count(t, b, "SELECT count(*) FROM stripe.events"), "the older event is still recorded")

		// The same holds inside one batch, whatever the order.
		b2 := setup(t)
		require.Equal(t, 1, apply(t, b2, event(t, newer), event(t, older)).Stale)
		got, _ = getRow(t, b2, "customers", cus["id"].(string))
		require.Equal(t, "New", got.Data["name"])
	})

	t.Run("NewerEventReplacesOlderState", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cus := eventstest.Object(t, "customer")
		first := eventstest.NewEvent("evt_first", "customer.created", eventstest.With(cus, map[string]any{"name": "First"}))
		first.Created = base
		second := eventstest.NewEvent("evt_second", "customer.updated", eventstest.With(cus, map[string]any{"name": "Second"}))
		second.Created = base.Add(time.Second)
		apply(t, b, event(t, first))
		apply(t, b, event(t, second))
		got, _ := getRow(t, b, "customers", cus["id"].(string))
		require.Equal(t, "Second", got.Data["name"])
	})

	t.Run("DeleteThenLateUpdateStaysDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		prod := eventstest.Object(t, "product")
		deleted := eventstest.NewEvent("evt_del", "product.deleted", prod)
		deleted.Created = base.Add(time.Second)
		lateOlder := eventstest.NewEvent("evt_late_old", "product.updated", eventstest.With(prod, map[string]any{"name": "Zombie"}))
		lateOlder.Created = base
		lateSameSecond := eventstest.NewEvent("evt_late_same", "product.updated", eventstest.With(prod, map[string]any{"name": "Zombie"}))
		lateSameSecond.Created = deleted.Created

		apply(t, b, event(t, deleted))
		apply(t, b, event(t, lateOlder))
		apply(t, b, event(t, lateSameSecond))
		got, ok := getRow(t, b, "products", prod["id"].(string))
		require.True(t, ok, "a deleted object keeps its row")
		require.True(t, got.Deleted)
		require.Equal(t, prod["name"], got.Data["name"])
		require.Equal(t, "evt_del", *got.LastEventID)
	})

	t.Run("SubscriptionEndedIsNotDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sub := eventstest.With(eventstest.Object(t, "subscription"), map[string]any{"status": "canceled"})
		apply(t, b, event(t, eventstest.NewEvent("evt_sub_del", "customer.subscription.deleted", sub)))
		got, _ := getRow(t, b, "subscriptions", sub["id"].(string))
		require.False(t, got.Deleted)
		require.Equal(t, "canceled", got.Data["status"])
	})

	t.Run("ConnectAccountAndLivemodeRecorded", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		e := eventstest.NewEvent("evt_connect", "charge.succeeded", eventstest.Object(t, "charge"))
		e.Account = "acct_connected"
		e.Livemode = true
		apply(t, b, event(t, e))
		got, _ := getRow(t, b, "charges", eventstest.Object(t, "charge")["id"].(string))
		require.Equal(t, "acct_connected", *got.Account)
		require.True(t, got.Livemode)
		require.Equal(t, 1, count(t, b, "SELECT count(*) FROM stripe.events WHERE account = 'acct_connected' AND livemode"))

		platform := eventstest.NewEvent("evt_platform", "customer.created", eventstest.Object(t, "customer"))
		apply(t, b, event(t, platform))
		cus, _ := getRow(t, b, "customers", eventstest.Object(t, "customer")["id"].(string))
		require.Nil(t, cus.Account, "the platform's own objects have no account")
	})

	t.Run("UnmodelledEventsAreStoredInEvents", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		apply(t, b,
			event(t, eventstest.NewEvent("evt_balance", "balance.available", eventstest.Object(t, "balance"))),
			event(t, eventstest.NewEvent("evt_topup", "topup.created", eventstest.Object(t, "topup"))))
		require.Equal(t, 2, count(t, b, "SELECT count(*) FROM stripe.events WHERE type IN ('balance.available', 'topup.created')"))
	})

	t.Run("UnstorableDataIsPermanent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cus := eventstest.With(eventstest.Object(t, "customer"), map[string]any{"name": "nul\x00byte"})
		_, err := b.store.Apply(t.Context(), store.Batch{Events: []store.Event{event(t, eventstest.NewEvent("evt_nul", "customer.updated", cus))}})
		require.Error(t, err)
		require.True(t, store.IsPermanent(err), "%v", err)
		require.Equal(t, 0, count(t, b, "SELECT count(*) FROM stripe.events"), "nothing of a failed batch is kept")
	})

	t.Run("SameSecondEventsAreReportedAsTies", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cus := eventstest.Object(t, "customer")
		first := eventstest.NewEvent("evt_tie1", "customer.updated", eventstest.With(cus, map[string]any{"name": "One"}))
		first.Created = base
		second := eventstest.NewEvent("evt_tie2", "customer.updated", eventstest.With(cus, map[string]any{"name": "Two"}))
		second.Created = base
		third := eventstest.NewEvent("evt_tie3", "customer.updated", eventstest.With(cus, map[string]any{"name": "Three"}))
		third.Created = base

		require.Empty(t, apply(t, b, event(t, first)).Ties)
		stats := apply(t, b, event(t, second))
		require.Len(t, stats.Ties, 1, "across batches")
		require.Equal(t, cus["id"], stats.Ties[0].ID)
		require.Equal(t, "customer", stats.Ties[0].Resource.Object)
		got, _ := getRow(t, b, "customers", cus["id"].(string))
		require.Equal(t, "Two", got.Data["name"], "stream order decides a tie")

		b2 := setup(t)
		stats = apply(t, b2, event(t, first), event(t, third))
		require.Len(t, stats.Ties, 1, "inside a batch")
	})

	t.Run("FetchedStateIsNewerThanTheEventsBeforeIt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cus := eventstest.Object(t, "customer")
		ev := eventstest.NewEvent("evt_before_fetch", "customer.updated", eventstest.With(cus, map[string]any{"name": "Event"}))
		ev.Created = base
		apply(t, b, event(t, ev))

		res := catalog.MustLookup("customer")
		fetched, err := json.Marshal(eventstest.With(cus, map[string]any{"name": "Fetched"}))
		require.NoError(t, err)
		id := cus["id"].(string)
		require.NoError(t, b.store.ApplySettled(t.Context(), events.Object{
			Resource: res, ID: id, Data: fetched, FetchedAt: base.Add(1500 * time.Millisecond),
		}))
		got, _ := getRow(t, b, "customers", cus["id"].(string))
		require.Equal(t, "Fetched", got.Data["name"])
		require.Nil(t, got.LastEventID)

		late := eventstest.NewEvent("evt_late", "customer.updated", eventstest.With(cus, map[string]any{"name": "Late"}))
		late.Created = base.Add(time.Second)
		apply(t, b, event(t, late))
		got, _ = getRow(t, b, "customers", cus["id"].(string))
		require.Equal(t, "Fetched", got.Data["name"], "an event older than the fetch changes nothing")

		wrong, err := json.Marshal(eventstest.Object(t, "product"))
		require.NoError(t, err)
		err = b.store.ApplySettled(t.Context(), events.Object{Resource: res, ID: id, Data: wrong, FetchedAt: time.Now()})
		require.True(t, store.IsPermanent(err), "a product is not a customer: %v", err)
	})

	t.Run("LineItemsKeepTheirParent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res := catalog.MustLookup("line_item")
		obj := eventstest.Object(t, "line_item")
		line, err := json.Marshal(obj)
		require.NoError(t, err)
		id := obj["id"].(string)
		stats, err := b.store.Apply(t.Context(), store.Batch{Objects: []events.Object{
			{Resource: res, ID: id, Parent: "in_parent", Data: line, FetchedAt: base},
		}})
		require.NoError(t, err)
		require.Equal(t, 1, stats.Applied)
		require.Equal(t, 1, count(t, b, "SELECT count(*) FROM stripe.invoice_line_items WHERE parent = 'in_parent'"))

		stats, err = b.store.Apply(t.Context(), store.Batch{Objects: []events.Object{
			{Resource: res, ID: id, Parent: "in_parent", Data: line, FetchedAt: base.Add(-time.Hour)},
		}})
		require.NoError(t, err)
		require.Zero(t, stats.Applied, "an older state is not applied, and not counted")

		_, err = b.store.Apply(t.Context(), store.Batch{Objects: []events.Object{{Resource: res, ID: id, Data: line, FetchedAt: base}}})
		require.True(t, store.IsPermanent(err), "a line item without its invoice: %v", err)
	})

	t.Run("BackfilledStateYieldsToEventsOfItsSecond", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cus := eventstest.Object(t, "customer")
		res := catalog.MustLookup("customer")
		fetched, err := json.Marshal(eventstest.With(cus, map[string]any{"name": "Backfilled"}))
		require.NoError(t, err)
		fetchedAt := base.Add(1500 * time.Millisecond)
		_, err = b.store.Apply(t.Context(), store.Batch{Objects: []events.Object{
			{Resource: res, ID: cus["id"].(string), Data: fetched, FetchedAt: fetchedAt},
		}})
		require.NoError(t, err)

		earlier := eventstest.NewEvent("evt_earlier_second", "customer.updated", eventstest.With(cus, map[string]any{"name": "Earlier"}))
		earlier.Created = base // the second before the fetch: the response includes it
		apply(t, b, event(t, earlier))
		got, _ := getRow(t, b, "customers", cus["id"].(string))
		require.Equal(t, "Backfilled", got.Data["name"])

		same := eventstest.NewEvent("evt_same_second", "customer.updated", eventstest.With(cus, map[string]any{"name": "Same second"}))
		same.Created = base.Add(time.Second) // may be after the fetch: it wins
		apply(t, b, event(t, same))
		got, _ = getRow(t, b, "customers", cus["id"].(string))
		require.Equal(t, "Same second", got.Data["name"])
	})

	t.Run("NestedListsFollowTheirParent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		item := func(id string) map[string]any {
			return eventstest.With(eventstest.Object(t, "subscription_item"), map[string]any{"id": id, "subscription": "sub_nested"})
		}
		sub := func(eventID string, at time.Time, itemIDs ...string) store.Event {
			var items []any
			for _, id := range itemIDs {
				items = append(items, item(id))
			}
			obj := eventstest.With(eventstest.Object(t, "subscription"), map[string]any{
				"id":    "sub_nested",
				"items": map[string]any{"object": "list", "data": items, "has_more": false, "url": "/v1/subscription_items?subscription=sub_nested"},
			})
			e := eventstest.NewEvent(eventID, "customer.subscription.updated", obj)
			e.Created = at
			return event(t, e)
		}
		live := func() []string {
			rows, err := b.pool.Query(t.Context(), "SELECT id FROM stripe.subscription_items WHERE parent = 'sub_nested' AND NOT deleted ORDER BY id")
			require.NoError(t, err)
			var ids []string
			for rows.Next() {
				var id string
				require.NoError(t, rows.Scan(&id))
				ids = append(ids, id)
			}
			return ids
		}

		apply(t, b, sub("evt_n1", base, "si_a", "si_b"))
		require.Equal(t, []string{"si_a", "si_b"}, live())

		// An item taken off the subscription is marked deleted.
		apply(t, b, sub("evt_n2", base.Add(2*time.Second), "si_b", "si_c"))
		require.Equal(t, []string{"si_b", "si_c"}, live())
		require.Equal(t, 3, count(t, b, "SELECT count(*) FROM stripe.subscription_items"), "the removed item keeps its row")

		// A late, older list changes nothing: not even its item removed since.
		apply(t, b, sub("evt_n0", base.Add(time.Second), "si_a", "si_b", "si_x"))
		require.Equal(t, []string{"si_b", "si_c"}, live())
		require.Zero(t, count(t, b, "SELECT count(*) FROM stripe.subscription_items WHERE id = 'si_x'"))

		// A list cut short (has_more) adds what it shows and removes nothing.
		partial := eventstest.With(eventstest.Object(t, "subscription"), map[string]any{
			"id":    "sub_nested",
			"items": map[string]any{"object": "list", "data": []any{item("si_d")}, "has_more": true, "url": "/v1/subscription_items?subscription=sub_nested"},
		})
		e := eventstest.NewEvent("evt_n3", "customer.subscription.updated", partial)
		e.Created = base.Add(3 * time.Second)
		apply(t, b, event(t, e))
		require.Equal(t, []string{"si_b", "si_c", "si_d"}, live())
	})

	t.Run("InvoiceLinesFromWebhooks", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		inv := eventstest.Object(t, "invoice")
		apply(t, b, event(t, eventstest.NewEvent("evt_inv_lines", "invoice.finalized", inv)))
		lines := inv["lines"].(map[string]any)["data"].([]any)
		require.NotEmpty(t, lines)
		require.Equal(t, len(lines), count(t, b, "SELECT count(*) FROM stripe.invoice_line_items WHERE parent = $1", inv["id"]))
	})

	t.Run("EmbeddedObjectsFollowTheirParent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		discount := eventstest.With(eventstest.Object(t, "discount"), map[string]any{"id": "di_embedded", "customer": "cus_embedded"})
		cus := eventstest.With(eventstest.Object(t, "customer"), map[string]any{"id": "cus_embedded", "discount": discount})
		e := eventstest.NewEvent("evt_cus_discount", "customer.updated", cus)
		e.Created = base
		stats := apply(t, b, event(t, e))
		require.Equal(t, 2, stats.Applied, "the customer and its discount")
		got, ok := getRow(t, b, "discounts", "di_embedded")
		require.True(t, ok)
		require.Equal(t, "evt_cus_discount", *got.LastEventID)
		require.Equal(t, base, got.StateAt.UTC())

		// customer.discount.deleted, a deletion the catalog lists, keeps the
		// row and marks it.
		del := eventstest.NewEvent("evt_discount_deleted", "customer.discount.deleted", discount)
		del.Created = base.Add(time.Second)
		apply(t, b, event(t, del))
		got, _ = getRow(t, b, "discounts", "di_embedded")
		require.True(t, got.Deleted)
	})

	t.Run("ThinEventsWaitForAFetch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var evs []store.Event
		for i := range 20 {
			id := fmt.Sprintf("cus_thin%d", i%4)
			evs = append(evs, thinEvent(t, fmt.Sprintf("evt_thin_%d", i), "v1.customer.updated", "customer", id,
				base.Add(time.Duration(i)*100*time.Millisecond), "acct_thin"))
		}
		evs = append(evs, thinEvent(t, "evt_thin_v2", "v2.core.account.updated", "v2.core.account", "acct_v2", base, ""))
		stats := apply(t, b, evs...)
		require.Equal(t, 21, stats.Stored)
		require.Zero(t, stats.Applied, "a thin event carries no state")
		require.Equal(t, 4, count(t, b, "SELECT count(*) FROM stripe.pending_fetches"), "one fetch per object, however many events")
		require.Equal(t, 4, count(t, b, "SELECT count(*) FROM stripe.pending_fetches WHERE account = 'acct_thin' AND url LIKE '/v1/customers/cus_thin%'"))
		require.Equal(t, 1, count(t, b, "SELECT count(*) FROM stripe.events WHERE object_type = 'v2.core.account' AND object_id = 'acct_v2'"),
			"a v2 event about an object not mirrored is kept in stripe.events")
		require.Equal(t, 5, count(t, b, "SELECT count(*) FROM stripe.events WHERE object_id = 'cus_thin0' AND account = 'acct_thin'"))

		// A backfilled state newer than every event naming an object settles it.
		fetched := []byte(`{"id":"cus_thin0","object":"customer"}`)
		_, err := b.store.Apply(t.Context(), store.Batch{Objects: []events.Object{
			{Resource: catalog.MustLookup("customer"), ID: "cus_thin0", Account: "acct_thin", Data: fetched, FetchedAt: base.Add(time.Hour)},
		}})
		require.NoError(t, err)
		require.Equal(t, 3, count(t, b, "SELECT count(*) FROM stripe.pending_fetches"))
	})

	t.Run("ThinDeletionMarksTheRowDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cus := eventstest.With(eventstest.Object(t, "customer"), map[string]any{"id": "cus_thin_del", "email": "kept@example.com"})
		e := eventstest.NewEvent("evt_snap", "customer.updated", cus)
		e.Created = base
		apply(t, b, event(t, e))
		apply(t, b, thinEvent(t, "evt_thin_del", "v1.customer.deleted", "customer", "cus_thin_del", base.Add(time.Second), ""))
		got, _ := getRow(t, b, "customers", "cus_thin_del")
		require.True(t, got.Deleted)
		require.Equal(t, "kept@example.com", got.Data["email"], "the row keeps what it held")
		require.Equal(t, "evt_thin_del", *got.LastEventID)
		require.Zero(t, count(t, b, "SELECT count(*) FROM stripe.pending_fetches"), "a deletion needs no fetch")
	})

	t.Run("ThinAndSnapshotOfOneChangeAreHarmless", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cus := eventstest.With(eventstest.Object(t, "customer"), map[string]any{"id": "cus_both", "name": "Snapshot"})
		snap := eventstest.NewEvent("evt_both_snap", "customer.updated", cus)
		snap.Created = base
		thin := thinEvent(t, "evt_both_thin", "v1.customer.updated", "customer", "cus_both", base, "")
		apply(t, b, thin, event(t, snap))
		apply(t, b, event(t, snap), thin) // redelivered, in the other order
		got, _ := getRow(t, b, "customers", "cus_both")
		require.Equal(t, "Snapshot", got.Data["name"])
		require.Equal(t, 2, count(t, b, "SELECT count(*) FROM stripe.events"))
		require.Equal(t, 1, count(t, b, "SELECT count(*) FROM stripe.pending_fetches"), "one fetch more, which the version rule makes harmless")
	})
}

// thinEvent builds a thin event ("object": "v2.core.event") about the object
// of type objectType and id, as Stripe sends it to an event destination.
func thinEvent(t *testing.T, id, eventType, objectType, objectID string, created time.Time, account string) store.Event {
	t.Helper()
	ev := map[string]any{
		"id": id, "object": "v2.core.event", "type": eventType, "livemode": false,
		"created":        created.UTC().Format("2006-01-02T15:04:05.000Z"),
		"related_object": map[string]any{"id": objectID, "type": objectType, "url": "/v1/customers/" + objectID},
	}
	if account != "" {
		ev["context"] = account
	}
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	env, err := events.ParseEnvelope(raw)
	require.NoError(t, err)
	return store.Event{Envelope: env, Raw: raw}
}
