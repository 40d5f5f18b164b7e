package stripefake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/stripefake"
)

// now is the fake's clock in most tests, so that seeds are reproducible.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func nowFunc() time.Time { return now }

type testBundle struct {
	srv *stripefake.Server
	url string
	api *client.API // stripe-go, retries off
}

func setup(t *testing.T, opts stripefake.Options, seed stripefake.SeedOptions) *testBundle {
	t.Helper()
	if opts.NowFunc == nil {
		opts.NowFunc = func() time.Time { return now }
	}
	srv := stripefake.New(opts)
	require.NoError(t, stripefake.Seed(srv, seed))
	url := srv.Start(t)
	return &testBundle{srv: srv, url: url, api: newAPI(url, stripefake.TestKey, 0)}
}

// get sends a raw GET with the test key plus header pairs, and decodes the body.
func (b *testBundle) get(t *testing.T, path string, header ...string) (*http.Response, []byte, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.url+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+stripefake.TestKey)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), string(body))
	return resp, body, m
}

func listIDs(t *testing.T, m map[string]any) []string {
	t.Helper()
	var ids []string
	for _, o := range m["data"].([]any) {
		ids = append(ids, o.(map[string]any)["id"].(string))
	}
	return ids
}

func TestListCustomers(t *testing.T) {
	t.Parallel()

	seed := stripefake.SeedOptions{Customers: 30, RandSeed: 1}

	t.Run("PagesNewestFirstThroughStripeGo", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{}, seed)

		params := &stripe.CustomerListParams{}
		params.Limit = stripe.Int64(7)
		it := b.api.Customers.List(params)
		var ids []string
		var created []int64
		for it.Next() {
			ids = append(ids, it.Customer().ID)
			created = append(created, it.Customer().Created)
		}
		require.NoError(t, it.Err())
		require.Len(t, ids, 30)
		require.Equal(t, b.srv.IDs("", "customer"), ids)
		for i := 1; i < len(ids); i++ {
			require.True(t, created[i-1] > created[i] || (created[i-1] == created[i] && ids[i-1] > ids[i]),
				"%s (%d) listed before %s (%d)", ids[i-1], created[i-1], ids[i], created[i])
		}
		require.EqualValues(t, 5, b.srv.Stats().Requests, "ceil(30/7) pages")
	})

	t.Run("RendersLikeStripe", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{}, seed)

		resp, body, m := b.get(t, "/v1/customers?limit=3")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.Equal(t, stripefake.CurrentAPIVersion, resp.Header.Get("Stripe-Version"), "the default version")
		require.Regexp(t, `^req_\w{14}$`, resp.Header.Get("Request-Id"))
		require.Regexp(t, `^\{\n  "object": "list",\n  "data": \[\n    \{\n      "id": "cus_\w{14}",\n      "object": "customer",`, string(body))
		require.Equal(t, true, m["has_more"])
		require.Equal(t, "/v1/customers", m["url"])
		for _, o := range m["data"].([]any) {
			c := o.(map[string]any)
			for _, k := range []string{"id", "object", "created", "livemode", "metadata", "email", "name", "invoice_settings"} {
				require.Contains(t, c, k)
			}
		}
	})

	t.Run("EndingBeforePagesBackward", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{}, seed)
		all := b.srv.IDs("", "customer")

		_, _, m := b.get(t, "/v1/customers?limit=5&ending_before="+all[20])
		require.Equal(t, all[15:20], listIDs(t, m))
		require.Equal(t, true, m["has_more"])

		_, _, m = b.get(t, "/v1/customers?ending_before="+all[3])
		require.Equal(t, all[:3], listIDs(t, m))
		require.Equal(t, false, m["has_more"])

		// stripe-go walks backward from a cursor too, page by page.
		params := &stripe.CustomerListParams{}
		params.EndingBefore = stripe.String(all[25])
		params.Limit = stripe.Int64(4)
		it := b.api.Customers.List(params)
		var got []string
		for it.Next() {
			got = append(got, it.Customer().ID)
		}
		require.NoError(t, it.Err())
		slices.Reverse(got)
		require.Equal(t, all[:25], got)
	})

	t.Run("CreatedFilters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{}, seed)
		all := b.srv.IDs("", "customer")
		pivotCustomer, ok := b.srv.Object("", "customer", all[12])
		require.True(t, ok)
		pivot := pivotCustomer["created"].(int64)

		collect := func(r *stripe.RangeQueryParams) []string {
			params := &stripe.CustomerListParams{CreatedRange: r}
			params.Limit = stripe.Int64(100)
			it := b.api.Customers.List(params)
			var ids []string
			for it.Next() {
				ids = append(ids, it.Customer().ID)
				if r.GreaterThanOrEqual > 0 {
					require.GreaterOrEqual(t, it.Customer().Created, r.GreaterThanOrEqual)
				}
				if r.LesserThan > 0 {
					require.Less(t, it.Customer().Created, r.LesserThan)
				}
			}
			require.NoError(t, it.Err())
			return ids
		}
		newer := collect(&stripe.RangeQueryParams{GreaterThanOrEqual: pivot})
		older := collect(&stripe.RangeQueryParams{LesserThan: pivot})
		require.Contains(t, newer, all[12])
		require.Equal(t, all, append(newer, older...))

		window := collect(&stripe.RangeQueryParams{GreaterThan: pivot - 1, LesserThanOrEqual: pivot})
		require.Contains(t, window, all[12])

		_, _, m := b.get(t, "/v1/customers?created="+strconv.FormatInt(pivot, 10))
		require.Contains(t, listIDs(t, m), all[12])
	})

	t.Run("DeletedCustomerStaysReadableAndItsCursorWorks", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{}, seed)
		all := b.srv.IDs("", "customer")

		_, err := b.srv.DeleteCustomer("", all[5])
		require.NoError(t, err)

		c, err := b.api.Customers.Get(all[5], nil)
		require.NoError(t, err)
		require.True(t, c.Deleted)

		_, _, m := b.get(t, "/v1/customers?limit=3&starting_after="+all[5])
		require.Equal(t, all[6:9], listIDs(t, m))
		require.Len(t, b.srv.IDs("", "customer"), 29)
	})
}

func TestSubscriptionsHideCanceledByDefault(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 25, RandSeed: 2})

	list := func(status string) map[string]string {
		params := &stripe.SubscriptionListParams{}
		if status != "" {
			params.Status = stripe.String(status)
		}
		params.Limit = stripe.Int64(100)
		it := b.api.Subscriptions.List(params)
		out := map[string]string{}
		for it.Next() {
			out[it.Subscription().ID] = string(it.Subscription().Status)
		}
		require.NoError(t, it.Err())
		return out
	}
	visible, all, canceled := list(""), list("all"), list("canceled")

	require.Len(t, all, len(b.srv.IDs("", "subscription")))
	require.NotEmpty(t, canceled)
	require.Len(t, all, len(visible)+len(canceled))
	for id, status := range visible {
		require.NotEqual(t, "canceled", status, id)
	}
	for id, status := range canceled {
		require.Equal(t, "canceled", status, id)
		require.NotContains(t, visible, id)
	}
	require.Subset(t, slices.Collect(mapsKeys(all)), slices.Collect(mapsKeys(visible)))

	resp, _, m := b.get(t, "/v1/subscriptions?status=bogus")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "status", m["error"].(map[string]any)["param"])
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestNestedListsPageBeyondTen(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 5, RandSeed: 3})

	t.Run("InvoiceLines", func(t *testing.T) {
		t.Parallel()
		var big *stripe.Invoice
		it := b.api.Invoices.List(&stripe.InvoiceListParams{})
		for it.Next() {
			//lint:ignore SA1019 Stripe still renders total_count on nested lists, and the fake must too
			if it.Invoice().Lines.TotalCount == 25 {
				big = it.Invoice()
			}
		}
		require.NoError(t, it.Err())
		require.NotNil(t, big, "the seed makes an invoice with 25 lines")
		require.Len(t, big.Lines.Data, 10)
		require.True(t, big.Lines.HasMore)
		require.Equal(t, "/v1/invoices/"+big.ID+"/lines", big.Lines.URL)

		lines := b.api.Invoices.ListLines(&stripe.InvoiceListLinesParams{Invoice: stripe.String(big.ID)})
		var ids []string
		for lines.Next() {
			ids = append(ids, lines.InvoiceLineItem().ID)
			require.Equal(t, stripe.InvoiceLineItemTypeInvoiceItem, lines.InvoiceLineItem().Type)
		}
		require.NoError(t, lines.Err())
		require.Len(t, ids, 25)
		require.Equal(t, b.srv.ChildIDs("", "line_item", big.ID), ids)
		for i, l := range big.Lines.Data {
			require.Equal(t, ids[i], l.ID)
		}
	})

	t.Run("SubscriptionItems", func(t *testing.T) {
		t.Parallel()
		var big *stripe.Subscription
		params := &stripe.SubscriptionListParams{Status: stripe.String("all")}
		it := b.api.Subscriptions.List(params)
		for it.Next() {
			//lint:ignore SA1019 Stripe still renders total_count on nested lists, and the fake must too
			if it.Subscription().Items.TotalCount > 10 {
				big = it.Subscription()
			}
		}
		require.NoError(t, it.Err())
		require.NotNil(t, big)
		require.True(t, big.Items.HasMore)
		require.Len(t, big.Items.Data, 10)

		items := b.api.SubscriptionItems.List(&stripe.SubscriptionItemListParams{Subscription: stripe.String(big.ID)})
		n := 0
		for items.Next() {
			require.Equal(t, big.ID, items.SubscriptionItem().Subscription)
			n++
		}
		require.NoError(t, items.Err())
		//lint:ignore SA1019 Stripe still renders total_count on nested lists, and the fake must too
		require.EqualValues(t, big.Items.TotalCount, n)

		resp, _, m := b.get(t, "/v1/subscription_items")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "subscription", m["error"].(map[string]any)["param"])
	})

	t.Run("CreditNoteLinesAndCheckoutLineItems", func(t *testing.T) {
		t.Parallel()
		var cn *stripe.CreditNote
		it := b.api.CreditNotes.List(&stripe.CreditNoteListParams{})
		for it.Next() {
			if it.CreditNote().Lines.HasMore {
				cn = it.CreditNote()
			}
		}
		require.NoError(t, it.Err())
		require.NotNil(t, cn)
		lines := b.api.CreditNotes.ListLines(&stripe.CreditNoteListLinesParams{CreditNote: stripe.String(cn.ID)})
		n := 0
		for lines.Next() {
			n++
		}
		require.NoError(t, lines.Err())
		//lint:ignore SA1019 Stripe still renders total_count on nested lists, and the fake must too
		require.EqualValues(t, cn.Lines.TotalCount, n)
		require.Greater(t, n, 10)

		var sessions []string
		sit := b.api.CheckoutSessions.List(&stripe.CheckoutSessionListParams{})
		for sit.Next() {
			require.Nil(t, sit.CheckoutSession().LineItems, "line_items only when expanded")
			sessions = append(sessions, sit.CheckoutSession().ID)
		}
		require.NoError(t, sit.Err())
		most := 0
		for _, id := range sessions {
			li := b.api.CheckoutSessions.ListLineItems(&stripe.CheckoutSessionListLineItemsParams{Session: stripe.String(id)})
			n := 0
			for li.Next() {
				n++
			}
			require.NoError(t, li.Err())
			most = max(most, n)
		}
		require.Equal(t, 12, most)
	})

	t.Run("ChargeRefundsOnlyWhenExpanded", func(t *testing.T) {
		t.Parallel()
		var id string
		it := b.api.Charges.List(&stripe.ChargeListParams{})
		for it.Next() {
			require.Nil(t, it.Charge().Refunds)
			if len(b.srv.ChildIDs("", "refund", it.Charge().ID)) > 10 {
				id = it.Charge().ID
			}
		}
		require.NoError(t, it.Err())
		require.NotEmpty(t, id)

		params := &stripe.ChargeParams{}
		params.AddExpand("refunds")
		ch, err := b.api.Charges.Get(id, params)
		require.NoError(t, err)
		require.Len(t, ch.Refunds.Data, 10)
		require.True(t, ch.Refunds.HasMore)
		require.Equal(t, "/v1/charges/"+id+"/refunds", ch.Refunds.URL)

		refunds := b.api.Refunds.List(&stripe.RefundListParams{Charge: stripe.String(id)})
		n := 0
		for refunds.Next() {
			n++
		}
		require.NoError(t, refunds.Err())
		//lint:ignore SA1019 Stripe still renders total_count on nested lists, and the fake must too
		require.EqualValues(t, ch.Refunds.TotalCount, n)
	})

	t.Run("PaymentMethodsAndTaxIDsPerCustomer", func(t *testing.T) {
		t.Parallel()
		cust := b.srv.IDs("", "customer")[0]
		for _, cid := range b.srv.IDs("", "customer") {
			if len(b.srv.ChildIDs("", "tax_id", cid)) > 0 {
				cust = cid
			}
		}
		pms := b.api.PaymentMethods.List(&stripe.PaymentMethodListParams{Customer: stripe.String(cust), Type: stripe.String("card")})
		var ids []string
		for pms.Next() {
			require.Equal(t, cust, pms.PaymentMethod().Customer.ID)
			require.NotEmpty(t, pms.PaymentMethod().Card.Last4)
			ids = append(ids, pms.PaymentMethod().ID)
		}
		require.NoError(t, pms.Err())
		require.NotEmpty(t, ids)

		viaCustomer := b.api.Customers.ListPaymentMethods(&stripe.CustomerListPaymentMethodsParams{Customer: stripe.String(cust)})
		var ids2 []string
		for viaCustomer.Next() {
			ids2 = append(ids2, viaCustomer.PaymentMethod().ID)
		}
		require.NoError(t, viaCustomer.Err())
		require.Equal(t, ids, ids2)

		_, _, m := b.get(t, "/v1/customers/"+cust+"/payment_methods?type=us_bank_account")
		require.Empty(t, m["data"])

		resp, _, m := b.get(t, "/v1/payment_methods?type=card")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "customer", m["error"].(map[string]any)["param"])

		taxIDs := b.api.TaxIDs.List(&stripe.TaxIDListParams{Customer: stripe.String(cust)})
		n := 0
		for taxIDs.Next() {
			require.Equal(t, cust, taxIDs.TaxID().Customer.ID)
			n++
		}
		require.NoError(t, taxIDs.Err())
		require.Equal(t, len(b.srv.ChildIDs("", "tax_id", cust)), n)
	})
}

func TestStripeAccountHeaderScopesRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 6, ConnectedAccounts: 2, ConnectedCustomers: 4, RandSeed: 4})

	it := b.api.Accounts.List(&stripe.AccountListParams{})
	var accounts []string
	for it.Next() {
		accounts = append(accounts, it.Account().ID)
	}
	require.NoError(t, it.Err())
	require.Len(t, accounts, 2)
	require.Equal(t, b.srv.ConnectedAccounts(), accounts)

	platform := b.srv.IDs("", "customer")
	require.Len(t, platform, 6)
	for _, acct := range accounts {
		params := &stripe.CustomerListParams{}
		params.SetStripeAccount(acct)
		cit := b.api.Customers.List(params)
		var ids []string
		for cit.Next() {
			ids = append(ids, cit.Customer().ID)
		}
		require.NoError(t, cit.Err())
		require.Len(t, ids, 4)
		require.Equal(t, b.srv.IDs(acct, "customer"), ids)
		for _, id := range ids {
			require.NotContains(t, platform, id)
		}

		// A platform object is not visible from the connected account.
		get := &stripe.CustomerParams{}
		get.SetStripeAccount(acct)
		_, err := b.api.Customers.Get(platform[0], get)
		var serr *stripe.Error
		require.ErrorAs(t, err, &serr)
		require.Equal(t, http.StatusNotFound, serr.HTTPStatusCode)
		require.Equal(t, stripe.ErrorCodeResourceMissing, serr.Code)

		_, _, self := b.get(t, "/v1/account", "Stripe-Account", acct)
		require.Equal(t, acct, self["id"])
	}

	resp, _, m := b.get(t, "/v1/customers", "Stripe-Account", "acct_1NotConnected000")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "account_invalid", m["error"].(map[string]any)["code"])

	// Platform-only objects about connected accounts.
	_, _, fees := b.get(t, "/v1/application_fees?limit=100")
	require.NotEmpty(t, fees["data"])
	for _, f := range fees["data"].([]any) {
		require.Contains(t, accounts, f.(map[string]any)["account"])
	}
	_, _, transfers := b.get(t, "/v1/transfers?destination="+accounts[0])
	require.Len(t, transfers["data"], 2)
}

func TestErrorsHaveStripesShape(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 2, RandSeed: 5})
	cust := b.srv.IDs("", "customer")[0]

	for _, tc := range []struct {
		name, path, key string
		status          int
		param, code     string
	}{
		{name: "NoKey", path: "/v1/customers", key: "-", status: 401},
		{name: "LiveKey", path: "/v1/customers", key: "sk_live_abcdefghijklmnop", status: 401, code: "api_key_invalid"},
		{name: "LimitAbove100", path: "/v1/customers?limit=101", status: 400, param: "limit"},
		{name: "LimitZero", path: "/v1/customers?limit=0", status: 400, param: "limit"},
		{name: "LimitNotANumber", path: "/v1/customers?limit=ten", status: 400, param: "limit"},
		{name: "BothCursors", path: "/v1/customers?starting_after=a&ending_before=b", status: 400, param: "starting_after"},
		{name: "UnknownCursor", path: "/v1/customers?starting_after=cus_nope", status: 400, param: "starting_after", code: "resource_missing"},
		{name: "UnknownParam", path: "/v1/customers?colour=blue", status: 400, param: "colour"},
		{name: "BadCreated", path: "/v1/customers?created[gt]=yesterday", status: 400, param: "created[gt]"},
		{name: "BadBoolean", path: "/v1/products?active=yes", status: 400, param: "active"},
		{name: "UnknownID", path: "/v1/customers/cus_nope", status: 404, param: "id", code: "resource_missing"},
		{name: "WrongParentForTaxID", path: "/v1/customers/" + cust + "/tax_ids/txi_nope", status: 404, param: "id", code: "resource_missing"},
		{name: "UnknownRoute", path: "/v1/nonsense", status: 404},
		{name: "BadExpand", path: "/v1/customers/" + cust + "?expand[]=nonsense", status: 400, param: "expand"},
		{name: "ListExpandWithoutData", path: "/v1/customers?expand[]=discount", status: 400, param: "expand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.url+tc.path, nil)
			require.NoError(t, err)
			switch tc.key {
			case "":
				req.Header.Set("Authorization", "Bearer "+stripefake.TestKey)
			case "-":
			default:
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			var body struct {
				Error struct{ Type, Message, Param, Code string }
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			require.Equal(t, "invalid_request_error", body.Error.Type)
			require.NotEmpty(t, body.Error.Message)
			require.Equal(t, tc.param, body.Error.Param)
			require.Equal(t, tc.code, body.Error.Code)
		})
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 3, RandSeed: 6})

	params := &stripe.InvoiceListParams{}
	params.AddExpand("data.customer")
	it := b.api.Invoices.List(params)
	require.True(t, it.Next())
	require.NoError(t, it.Err())
	require.NotEmpty(t, it.Invoice().Customer.Email, "customer expanded into the object")

	_, _, m := b.get(t, "/v1/subscriptions/"+b.srv.IDs("", "subscription")[0]+"?expand[]=customer&expand[]=latest_invoice")
	require.Equal(t, "customer", m["customer"].(map[string]any)["object"])
	require.Equal(t, "invoice", m["latest_invoice"].(map[string]any)["object"])
}

// TestServesEveryCatalogPath requests each path the catalog gives, built as
// the mirror builds them: every one is routed, and lists of a seeded parent
// answer.
func TestServesEveryCatalogPath(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 5, ConnectedAccounts: 1, RandSeed: 7})

	type request struct {
		path   string
		listed bool // a list whose parent, if any, exists
	}
	// parent returns the first object of a type, or an id that is none.
	parent := func(object string) (string, bool) {
		if ids := b.srv.IDs("", object); len(ids) > 0 {
			return ids[0], true
		}
		return "nope", false
	}
	var requests []request
	for _, res := range catalog.All() {
		if p, ok := res.RetrievePath("nope"); ok {
			requests = append(requests, request{path: p})
		}
		if l := res.List; l != nil {
			id, ok := "", true
			if l.Per != "" {
				id, ok = parent(l.Per)
			}
			p := l.PathFor(id)
			if len(l.Filters) > 0 {
				p += "?" + l.Filters.Encode() // subscriptions: status=all
			}
			requests = append(requests, request{path: p, listed: ok})
		}
		for _, n := range res.Nested {
			id, ok := parent(res.Object)
			p, q := n.PagePath(id)
			if q != nil {
				p += "?" + q.Encode()
			}
			requests = append(requests, request{path: p, listed: ok})
		}
	}
	for _, req := range requests {
		resp, body, m := b.get(t, req.path)
		require.NotContains(t, string(body), "Unrecognized request URL", req.path)
		if req.listed {
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", req.path, body)
			require.Equal(t, "list", m["object"], req.path)
		}
	}
}
