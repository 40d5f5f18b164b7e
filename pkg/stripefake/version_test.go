package stripefake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/stripefake"
)

const (
	legacy  = stripefake.LegacyAPIVersion
	current = stripefake.CurrentAPIVersion
)

// at returns the value at a dotted path ("parent.subscription_details.subscription",
// "items.data.0.current_period_end") and whether it is there.
func at(m map[string]any, path string) (any, bool) {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// idAt is the value at path, or the id of the object there.
func idAt(m map[string]any, path string) (any, bool) {
	v, ok := at(m, path)
	if o, isObj := v.(map[string]any); isObj && o["object"] != nil {
		return o["id"], ok
	}
	return v, ok
}

// find returns the first id of a top-level object type whose stored
// (legacy) shape satisfies ok.
func find(t *testing.T, srv *stripefake.Server, object string, ok func(map[string]any) bool) string {
	t.Helper()
	for _, id := range srv.IDs("", object) {
		if o, _ := srv.ObjectAt("", object, id, legacy); ok(o) {
			return id
		}
	}
	t.Fatalf("no %s to test with", object)
	return ""
}

func TestAPIVersions(t *testing.T) {
	t.Parallel()

	seed := stripefake.SeedOptions{Customers: 40, RandSeed: 3}
	b := setup(t, stripefake.Options{}, seed)
	srv := b.srv

	// both fetches path in the legacy and the current version.
	both := func(t *testing.T, path string) (old, cur map[string]any) {
		t.Helper()
		resp, body, old := b.get(t, path, "Stripe-Version", legacy)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.Equal(t, legacy, resp.Header.Get("Stripe-Version"))
		resp, body, cur = b.get(t, path, "Stripe-Version", current)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.Equal(t, current, resp.Header.Get("Stripe-Version"))
		return old, cur
	}
	// moved checks that a field is at oldPath in the legacy shape only and
	// at newPath in the current shape only, with the same value (the id,
	// where one side expands it).
	moved := func(t *testing.T, old, cur map[string]any, oldPath, newPath string) {
		t.Helper()
		was, ok := idAt(old, oldPath)
		require.True(t, ok, "legacy shape has %s", oldPath)
		require.NotNil(t, was, "legacy %s", oldPath)
		is, ok := idAt(cur, newPath)
		require.True(t, ok, "current shape has %s", newPath)
		require.Equal(t, was, is, "%s → %s", oldPath, newPath)
		_, ok = at(cur, oldPath)
		require.False(t, ok, "current shape has no %s", oldPath)
		_, ok = at(old, newPath)
		require.False(t, ok, "legacy shape has no %s", newPath)
	}
	onlyOld := func(t *testing.T, old, cur map[string]any, paths ...string) {
		t.Helper()
		for _, p := range paths {
			_, ok := at(old, p)
			require.True(t, ok, "legacy shape has %s", p)
			_, ok = at(cur, p)
			require.False(t, ok, "current shape has no %s", p)
		}
	}
	onlyNew := func(t *testing.T, old, cur map[string]any, paths ...string) {
		t.Helper()
		onlyOld(t, cur, old, paths...)
	}

	t.Run("InvoiceNamesItsSubscriptionInParent", func(t *testing.T) {
		t.Parallel()
		id := find(t, srv, "invoice", func(o map[string]any) bool { return o["subscription"] != nil && o["charge"] != nil })
		old, cur := both(t, "/v1/invoices/"+id)
		moved(t, old, cur, "subscription", "parent.subscription_details.subscription")
		moved(t, old, cur, "subscription_details.metadata", "parent.subscription_details.metadata")
		require.Equal(t, "subscription_details", cur["parent"].(map[string]any)["type"])
		// Payments are invoice payments now; taxes are total_taxes.
		onlyOld(t, old, cur, "charge", "payment_intent", "paid", "paid_out_of_band", "total_tax_amounts", "discount", "tax")
		onlyNew(t, old, cur, "amount_overpaid", "total_taxes")

		// The same invoice listed, and with its customer expanded.
		old, cur = both(t, "/v1/invoices?limit=100&expand[]=data.customer")
		for i, o := range old["data"].([]any) {
			o, c := o.(map[string]any), cur["data"].([]any)[i].(map[string]any)
			require.Equal(t, o["id"], c["id"])
			if o["subscription"] == nil {
				require.Nil(t, c["parent"], "an invoice without subscription has no parent")
				continue
			}
			moved(t, o, c, "subscription", "parent.subscription_details.subscription")
			require.Equal(t, "customer", c["customer"].(map[string]any)["object"], "expanded")
			require.Equal(t, o["customer"].(map[string]any)["id"], c["customer"].(map[string]any)["id"])
		}
	})

	t.Run("LinesNameTheirParentAndPricing", func(t *testing.T) {
		t.Parallel()
		id := find(t, srv, "invoice", func(o map[string]any) bool { return o["subscription"] != nil })
		// Nested in the invoice and listed on their own: the same shape.
		oldInv, curInv := both(t, "/v1/invoices/"+id)
		old, cur := both(t, "/v1/invoices/"+id+"/lines")
		require.Equal(t, oldInv["lines"].(map[string]any)["data"], old["data"])
		require.Equal(t, curInv["lines"].(map[string]any)["data"], cur["data"])
		ol, cl := old["data"].([]any)[0].(map[string]any), cur["data"].([]any)[0].(map[string]any)
		require.Equal(t, "subscription", ol["type"])
		moved(t, ol, cl, "subscription_item", "parent.subscription_item_details.subscription_item")
		moved(t, ol, cl, "proration", "parent.subscription_item_details.proration")
		moved(t, ol, cl, "price.id", "pricing.price_details.price")
		moved(t, ol, cl, "price.product", "pricing.price_details.product")
		moved(t, ol, cl, "price.unit_amount_decimal", "pricing.unit_amount_decimal")
		require.Equal(t, "subscription_item_details", cl["parent"].(map[string]any)["type"])
		v, _ := at(cl, "parent.subscription_item_details.subscription")
		require.Equal(t, ol["subscription"], v)
		require.Equal(t, ol["subscription"], cl["subscription"], "kept at the top too: the dahlia spec has it")
		require.Equal(t, id, cl["invoice"])
		onlyOld(t, ol, cl, "type", "plan", "tax_amounts", "tax_rates", "amount_excluding_tax", "unit_amount_excluding_tax", "proration_details")
		onlyNew(t, ol, cl, "taxes", "subtotal", "invoice")

		// A line billing an invoice item.
		id = find(t, srv, "invoice", func(o map[string]any) bool { return o["billing_reason"] == "manual" })
		old, cur = both(t, "/v1/invoices/"+id+"/lines")
		ol, cl = old["data"].([]any)[0].(map[string]any), cur["data"].([]any)[0].(map[string]any)
		moved(t, ol, cl, "invoice_item", "parent.invoice_item_details.invoice_item")
		require.Equal(t, "invoice_item_details", cl["parent"].(map[string]any)["type"])
	})

	t.Run("InvoiceItemsNameTheirParentAndPricing", func(t *testing.T) {
		t.Parallel()
		id := find(t, srv, "invoiceitem", func(map[string]any) bool { return true })
		old, cur := both(t, "/v1/invoiceitems/"+id)
		moved(t, old, cur, "price.id", "pricing.price_details.price")
		moved(t, old, cur, "unit_amount_decimal", "pricing.unit_amount_decimal")
		onlyOld(t, old, cur, "price", "plan", "subscription", "unit_amount")
		require.Nil(t, cur["parent"], "billed outside a subscription")

		// One billed with a subscription names it in parent.
		sub := srv.IDs("", "subscription")[0]
		priceID := srv.IDs("", "price")[0]
		price, _ := srv.ObjectAt("", "price", priceID, legacy)
		_, err := srv.Create("", "invoiceitem", map[string]any{"id": "ii_1VersionTest000001", "subscription": sub,
			"subscription_item": nil, "price": price, "plan": nil, "unit_amount": price["unit_amount"],
			"unit_amount_decimal": price["unit_amount_decimal"], "date": now.Unix()})
		require.NoError(t, err)
		old, cur = both(t, "/v1/invoiceitems/ii_1VersionTest000001")
		moved(t, old, cur, "subscription", "parent.subscription_details.subscription")
		require.Equal(t, "subscription_details", cur["parent"].(map[string]any)["type"])
	})

	t.Run("SubscriptionPeriodIsTheItems", func(t *testing.T) {
		t.Parallel()
		id := find(t, srv, "subscription", func(o map[string]any) bool { return o["discount"] != nil })
		old, cur := both(t, "/v1/subscriptions/"+id)
		moved(t, old, cur, "current_period_start", "items.data.0.current_period_start")
		moved(t, old, cur, "current_period_end", "items.data.0.current_period_end")
		moved(t, old, cur, "discount.id", "discounts.0")
		onlyOld(t, old, cur, "discount")

		// An item listed or retrieved on its own has the period too.
		oldItems, curItems := both(t, "/v1/subscription_items?subscription="+id)
		item := oldItems["data"].([]any)[0].(map[string]any)["id"].(string)
		oldItem, curItem := both(t, "/v1/subscription_items/"+item)
		for _, c := range []map[string]any{curItems["data"].([]any)[0].(map[string]any), curItem} {
			require.Equal(t, old["current_period_end"], c["current_period_end"])
			require.Equal(t, old["current_period_start"], c["current_period_start"])
		}
		onlyNew(t, oldItem, curItem, "current_period_start", "current_period_end", "discounts")
	})

	t.Run("ChargesAndPaymentIntentsNoLongerNameTheInvoice", func(t *testing.T) {
		t.Parallel()
		ch := find(t, srv, "charge", func(o map[string]any) bool { return o["invoice"] != nil })
		old, cur := both(t, "/v1/charges/"+ch)
		onlyOld(t, old, cur, "invoice")
		pi := find(t, srv, "payment_intent", func(o map[string]any) bool { return o["invoice"] != nil })
		old, cur = both(t, "/v1/payment_intents/"+pi)
		onlyOld(t, old, cur, "invoice")
	})

	t.Run("DiscountsAndPromotionCodesNameTheirCoupon", func(t *testing.T) {
		t.Parallel()
		cus := find(t, srv, "customer", func(o map[string]any) bool { return o["discount"] != nil })
		old, cur := both(t, "/v1/customers/"+cus)
		moved(t, old, cur, "discount.coupon.id", "discount.source.coupon")
		require.Equal(t, "coupon", cur["discount"].(map[string]any)["source"].(map[string]any)["type"])
		promo := srv.IDs("", "promotion_code")[0]
		old, cur = both(t, "/v1/promotion_codes/"+promo)
		moved(t, old, cur, "coupon.id", "promotion.coupon")
		require.IsType(t, "", cur["promotion"].(map[string]any)["coupon"], "no longer expanded")
	})

	t.Run("OtherObjects", func(t *testing.T) {
		t.Parallel()
		cn := find(t, srv, "credit_note", func(o map[string]any) bool { return o["refund"] != nil })
		old, cur := both(t, "/v1/credit_notes/"+cn)
		moved(t, old, cur, "refund", "refunds.0.refund")
		v, _ := at(cur, "refunds.0.amount_refunded")
		require.Equal(t, old["total"], v)
		onlyOld(t, old, cur, "tax_amounts", "lines.data.0.tax_amounts", "lines.data.0.amount_excluding_tax")
		onlyNew(t, old, cur, "total_taxes", "lines.data.0.taxes")

		cs := srv.IDs("", "checkout.session")[0]
		old, cur = both(t, "/v1/checkout/sessions/"+cs)
		require.Equal(t, "hosted", old["ui_mode"])
		require.Equal(t, "hosted_page", cur["ui_mode"])
		onlyOld(t, old, cur, "shipping_details")
		onlyNew(t, old, cur, "collected_information")

		prod := srv.IDs("", "product")[0]
		old, cur = both(t, "/v1/products/"+prod)
		moved(t, old, cur, "features", "marketing_features")

		plan := srv.IDs("", "plan")[0]
		old, cur = both(t, "/v1/plans/"+plan)
		onlyOld(t, old, cur, "aggregate_usage")
		onlyNew(t, old, cur, "meter")
	})

	t.Run("DefaultIsTheConfiguredVersion", func(t *testing.T) {
		t.Parallel()
		id := find(t, srv, "invoice", func(o map[string]any) bool { return o["subscription"] != nil })
		for _, version := range []string{"", legacy, current, "2025-03-31.basil"} {
			s := setup(t, stripefake.Options{APIVersion: version}, seed)
			resp, _, m := s.get(t, "/v1/invoices/"+id)
			want := version
			if want == "" {
				want = current
			}
			require.Equal(t, want, resp.Header.Get("Stripe-Version"))
			_, hasParent := m["parent"]
			require.Equal(t, want != legacy, hasParent, "version %q", want)
			_, hasSub := m["subscription"]
			require.Equal(t, want == legacy, hasSub, "version %q", want)
			obj, ok := s.srv.Object("", "invoice", id)
			require.True(t, ok)
			require.Equal(t, m["id"], obj["id"])
			_, hasParent = obj["parent"]
			require.Equal(t, want != legacy, hasParent, "Object renders in the default version too")
		}
	})

	t.Run("VersionsBetweenApplyTheChangesOutByThen", func(t *testing.T) {
		t.Parallel()
		cus := find(t, srv, "customer", func(o map[string]any) bool { return o["discount"] != nil })
		cs := srv.IDs("", "checkout.session")[0]
		for _, tc := range []struct {
			version                  string
			parent, source, hostPage bool
		}{
			{version: "2024-06-20"},
			{version: "2025-03-31.basil", parent: true},
			{version: "2025-09-30.clover", parent: true, source: true},
			{version: "2026-03-25.dahlia", parent: true, source: true, hostPage: true},
		} {
			_, _, c := b.get(t, "/v1/customers/"+cus, "Stripe-Version", tc.version)
			_, hasSource := at(c, "discount.source")
			require.Equal(t, tc.source, hasSource, tc.version)
			_, _, s := b.get(t, "/v1/checkout/sessions/"+cs, "Stripe-Version", tc.version)
			require.Equal(t, tc.hostPage, s["ui_mode"] == "hosted_page", tc.version)
			_, hasCollected := s["collected_information"]
			require.Equal(t, tc.parent, hasCollected, tc.version)
		}
	})

	t.Run("InvalidVersionIsRefused", func(t *testing.T) {
		t.Parallel()
		for _, v := range []string{"2023-13", "latest", "2020-08-27"} {
			resp, body, m := b.get(t, "/v1/customers", "Stripe-Version", v)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
			require.Contains(t, m["error"].(map[string]any)["message"], "Invalid Stripe API version: "+v)
		}
	})

	t.Run("TheStoreKeepsOneShape", func(t *testing.T) {
		t.Parallel()
		id := find(t, srv, "subscription", func(o map[string]any) bool { return o["status"] == "active" })
		before, _ := srv.ObjectAt("", "subscription", id, legacy)
		_, _ = both(t, "/v1/subscriptions/"+id)
		_, _ = both(t, "/v1/subscriptions?limit=100")
		after, _ := srv.ObjectAt("", "subscription", id, legacy)
		require.Equal(t, before, after, "rendering in another version changes nothing stored")
		_, ok := srv.ObjectAt("", "subscription", id, "2019-01-01")
		require.False(t, ok, "a version the fake cannot render")
	})
}

// TestEventVersions checks that events carry the version they were
// rendered in: the account's default in /v1/events, the endpoint's in the
// webhook, each with data.object and previous_attributes in that shape.
func TestEventVersions(t *testing.T) {
	t.Parallel()

	var mu sync.Mutex
	var delivered []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		mu.Lock()
		delivered = append(delivered, m)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	b := setup(t, stripefake.Options{APIVersion: legacy, WebhookAPIVersion: current, WebhookURL: hook.URL},
		stripefake.SeedOptions{Customers: 10, RandSeed: 5})

	sub := find(t, b.srv, "subscription", func(o map[string]any) bool { return o["status"] == "active" })
	was, _ := b.srv.ObjectAt("", "subscription", sub, legacy)
	end := int64(was["current_period_end"].(int64)) + 86400
	ev, err := b.srv.Mutate("", "subscription", sub, func(o map[string]any) { o["current_period_end"] = end })
	require.NoError(t, err)
	require.Equal(t, "customer.subscription.updated", ev.Type)

	// The webhook endpoint's version, in Event.Payload as POSTed.
	var payload map[string]any
	require.NoError(t, json.Unmarshal(ev.Payload, &payload))
	mu.Lock()
	require.Len(t, delivered, 1)
	require.Equal(t, payload["id"], delivered[0]["id"])
	mu.Unlock()
	require.Equal(t, current, payload["api_version"])
	obj := payload["data"].(map[string]any)["object"].(map[string]any)
	prev := payload["data"].(map[string]any)["previous_attributes"].(map[string]any)
	v, _ := at(obj, "items.data.0.current_period_end")
	require.EqualValues(t, end, v)
	require.NotContains(t, obj, "current_period_end")
	require.NotContains(t, prev, "current_period_end")
	v, _ = at(prev, "items.data.0.current_period_end")
	require.EqualValues(t, was["current_period_end"], v, "the item's period changed")

	// The account's version in /v1/events, whatever the request asks for.
	for _, version := range []string{legacy, current} {
		_, _, m := b.get(t, "/v1/events/"+ev.ID, "Stripe-Version", version)
		require.Equal(t, legacy, m["api_version"])
		obj := m["data"].(map[string]any)["object"].(map[string]any)
		prev := m["data"].(map[string]any)["previous_attributes"].(map[string]any)
		require.EqualValues(t, end, obj["current_period_end"])
		require.EqualValues(t, was["current_period_end"], prev["current_period_end"])
		require.NotContains(t, prev, "items", "the items did not change in this shape")
	}
	_, _, list := b.get(t, "/v1/events?limit=100", "Stripe-Version", current)
	for _, e := range list["data"].([]any) {
		require.Equal(t, legacy, e.(map[string]any)["api_version"])
	}
}
