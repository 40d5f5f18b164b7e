package stripefake_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/stripefake"
)

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	opts := stripefake.SeedOptions{Customers: 8, ConnectedAccounts: 2, RandSeed: 42, Now: now}
	build := func(o stripefake.SeedOptions) *stripefake.Server {
		s := stripefake.New(stripefake.Options{})
		require.NoError(t, stripefake.Seed(s, o))
		return s
	}
	a, b := build(opts), build(opts)

	require.Equal(t, a.ConnectedAccounts(), b.ConnectedAccounts())
	for _, acct := range append(a.ConnectedAccounts(), "") {
		require.Equal(t, a.Objects(acct), b.Objects(acct))
		for _, object := range []string{"customer", "subscription", "invoice", "charge", "event"} {
			require.Equal(t, a.IDs(acct, object), b.IDs(acct, object), object)
		}
	}
	inv := a.IDs("", "invoice")[0]
	ja, _ := a.Object("", "invoice", inv)
	jb, _ := b.Object("", "invoice", inv)
	require.Equal(t, ja, jb)

	opts.RandSeed = 43
	require.NotEqual(t, a.IDs("", "customer"), build(opts).IDs("", "customer"))
}

func TestSeedCoversEveryListEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 10, ConnectedAccounts: 1, RandSeed: 11})
	_, err := b.srv.UpdateCustomer("", b.srv.IDs("", "customer")[0], map[string]any{"name": "Ada"})
	require.NoError(t, err)

	twoYearsAgo := now.AddDate(-2, 0, -1).Unix()
	idShape := regexp.MustCompile(`^[a-z_]+_\w{14,}$`)
	for path, object := range map[string]string{
		"customers": "customer", "products": "product", "prices": "price", "plans": "plan", "coupons": "coupon",
		"promotion_codes": "promotion_code", "subscriptions": "subscription",
		"subscription_schedules": "subscription_schedule", "invoices": "invoice", "invoiceitems": "invoiceitem",
		"credit_notes": "credit_note", "charges": "charge", "refunds": "refund", "disputes": "dispute",
		"payment_intents": "payment_intent", "setup_intents": "setup_intent", "checkout/sessions": "checkout.session",
		"tax_rates": "tax_rate", "payouts": "payout", "transfers": "transfer",
		"balance_transactions": "balance_transaction", "application_fees": "application_fee", "accounts": "account",
		"radar/early_fraud_warnings": "radar.early_fraud_warning", "reviews": "review", "files": "file",
		"events": "event",
	} {
		_, body, m := b.get(t, "/v1/"+path+"?limit=100")
		require.Equal(t, "list", m["object"], string(body))
		require.NotEmpty(t, m["data"], path)
		for _, o := range m["data"].([]any) {
			obj := o.(map[string]any)
			require.Equal(t, object, obj["object"], path)
			id := obj["id"].(string)
			if object != "coupon" {
				require.Regexp(t, idShape, id)
			}
			ts := obj["created"]
			if object == "invoiceitem" {
				ts = obj["date"] // invoice items have date, not created
			}
			require.Greater(t, ts.(float64), float64(twoYearsAgo), "%s %s", path, id)
			require.LessOrEqual(t, ts.(float64), float64(now.Unix()), "%s %s", path, id)

			_, _, got := b.get(t, "/v1/"+path+"/"+id)
			require.Equal(t, id, got["id"], "retrieve %s", id)
		}
	}
}

func TestCreatedTimesSpreadOverTwoYears(t *testing.T) {
	t.Parallel()
	s := stripefake.New(stripefake.Options{})
	require.NoError(t, stripefake.Seed(s, stripefake.SeedOptions{Customers: 200, RandSeed: 12, Now: now}))

	seen := map[int64]bool{}
	var oldest, newest int64 = now.Unix(), 0
	for _, id := range s.IDs("", "customer") {
		c, ok := s.Object("", "customer", id)
		require.True(t, ok)
		ts := c["created"].(int64)
		seen[ts] = true
		oldest, newest = min(oldest, ts), max(newest, ts)
	}
	require.Greater(t, len(seen), 195, "created times are unique-ish")
	require.Less(t, oldest, now.AddDate(-1, -9, 0).Unix())
	require.Greater(t, newest, now.AddDate(0, -1, 0).Unix())

	raw, err := json.Marshal(s.Objects(""))
	require.NoError(t, err)
	t.Logf("inventory for 200 customers: %s", raw)
}
