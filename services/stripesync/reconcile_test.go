package stripesync_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/services/processor"
	"github.com/stripesync/stripesync/services/stripesync"
)

// TestReconcile mirrors a seeded fake through the syncer's listing and a
// running processor, then deletes a customer (on the platform and on a
// connected account), a subscription and an invoice line in the fake with
// no webhook reaching the mirror, and cancels another subscription:
// reconciling marks the three deleted and leaves the canceled
// subscription, which the list hides by default, as it is.
func TestReconcile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	fake := stripefake.New(stripefake.Options{}) // no WebhookURL: no event reaches the mirror
	require.NoError(t, stripefake.Seed(fake, stripefake.SeedOptions{Customers: 3, ConnectedAccounts: 1, ConnectedCustomers: 2, RandSeed: 11}))
	apiURL := fake.Start(t)
	dbURL := dbtest.NewURL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	ns := eventstest.RunServer(t)
	env := map[string]string{
		"DATABASE_URL": dbURL, "NATS_URL": ns.ClientURL(), "PROCESSOR_ADDR": "127.0.0.1:0",
		"STRIPE_API_KEY": stripefake.TestKey, "STRIPE_API_BASE": apiURL, "SYNCER_RATE_LIMIT": "1000", "SYNCER_ENDPOINT_RATE_LIMIT": "1000",
	}
	getenv := func(k string) string { return env[k] }

	pctx, stopProcessor := context.WithCancel(context.WithoutCancel(ctx))
	processed := make(chan error, 1)
	go func() { processed <- processor.Run(pctx, nil, getenv, io.Discard) }()
	t.Cleanup(func() {
		stopProcessor()
		if err := <-processed; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("processor: %v", err)
		}
	})

	reconcile := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		err := stripesync.Run(context.WithoutCancel(ctx), append([]string{"reconcile"}, args...), getenv, &out)
		require.NoError(t, err, out.String())
		return out.String()
	}
	deleted := func(relation, id string) bool {
		t.Helper()
		var d bool
		require.NoError(t, pool.QueryRow(ctx, "SELECT deleted FROM stripe."+relation+" WHERE id = $1", id).Scan(&d), "%s %s has a row", relation, id)
		return d
	}

	connected := fake.ConnectedAccounts()[0]
	customers, connectedCustomers := fake.IDs("", "customer"), fake.IDs(connected, "customer")
	var active, canceled []string
	for _, id := range fake.IDs("", "subscription") {
		sub, _ := fake.Object("", "subscription", id)
		if sub["status"] == "canceled" {
			canceled = append(canceled, id)
		} else {
			active = append(active, id)
		}
	}
	require.GreaterOrEqual(t, len(active), 2)
	var longInvoice string
	for _, id := range fake.IDs("", "invoice") {
		if len(fake.ChildIDs("", "line_item", id)) > 10 {
			longInvoice = id
		}
	}
	require.NotEmpty(t, longInvoice, "the seed has an invoice with more lines than Stripe holds in it")
	lines := fake.ChildIDs("", "line_item", longInvoice)

	t.Run("AFirstListingMarksNothing", func(t *testing.T) {
		out := reconcile()
		require.Regexp(t, `customers +platform +3 +3 +agree +0 +0 +0`, out)
		require.Regexp(t, `customers +`+connected+` +2 +2 +agree +0 +0 +0`, out)
		require.NotContains(t, out, "differ")
		require.False(t, deleted("invoice_line_items", lines[len(lines)-1]), "a line beyond the ten the invoice holds")
	})

	goneCustomer, goneConnected, goneSub, keptSub, goneLine := customers[len(customers)-1], connectedCustomers[0], active[0], active[1], lines[len(lines)-2]
	// A listing judges only the rows last written more than a second
	// before it started (the processor's allowance for the clocks of
	// JetStream and PostgreSQL, startSkew): rows the first listing wrote
	// later are left for the next reconciliation, by design. The next
	// listing starts after that second.
	time.Sleep(1100 * time.Millisecond)
	_, err = fake.DeleteCustomer("", goneCustomer)
	require.NoError(t, err)
	_, err = fake.DeleteCustomer(connected, goneConnected)
	require.NoError(t, err)
	_, err = fake.Delete("", "subscription", goneSub)
	require.NoError(t, err)
	_, err = fake.CancelSubscription("", keptSub)
	require.NoError(t, err)
	_, err = fake.Delete("", "line_item", goneLine)
	require.NoError(t, err)
	require.NotContains(t, fake.ChildIDs("", "line_item", longInvoice), goneLine)

	t.Run("DeletedWhileWebhooksWereDownAreMarked", func(t *testing.T) {
		require.False(t, deleted("customers", goneCustomer), "nothing told the mirror yet")
		out := reconcile()
		require.True(t, deleted("customers", goneCustomer))
		require.True(t, deleted("customers", goneConnected), "retrieved with the connected account's Stripe-Account")
		require.True(t, deleted("subscriptions", goneSub))
		require.True(t, deleted("invoice_line_items", goneLine), "the invoice's lines paged to their end no longer hold it")
		require.False(t, deleted("invoice_line_items", lines[len(lines)-1]))
		require.False(t, deleted("subscriptions", keptSub), "a canceled subscription still exists")
		for _, id := range canceled {
			require.False(t, deleted("subscriptions", id))
		}
		var status string
		require.NoError(t, pool.QueryRow(ctx, "SELECT status FROM stripe.subscriptions WHERE id = $1", keptSub).Scan(&status))
		require.Equal(t, "canceled", status, "listed with status=all, so written by the listing")
		require.Regexp(t, `customers +platform +2 +2 +agree +1 +1 +0`, out)
		require.Regexp(t, `customers +`+connected+` +1 +1 +agree +1 +1 +0`, out)
		require.Regexp(t, `subscriptions +platform +\d+ +\d+ +agree +1 +1 +0`, out)
		require.Regexp(t, `invoices +platform +\d+ +\d+ +agree +0 +0 +0`, out)
		// The deleted customers' payment methods still exist (retrieved,
		// not marked), but no customer lists them any more: the digests
		// tell.
		require.Regexp(t, `payment_methods +platform +\d+ +\d+ +differ +[1-9]\d* +0 +0`, out)
	})

	t.Run("NotCompleteIsRefused", func(t *testing.T) {
		var out bytes.Buffer
		err := stripesync.Run(ctx, []string{"reconcile", "-database-url", ""}, getenv, &out)
		require.ErrorContains(t, err, "DATABASE_URL")
	})
}
