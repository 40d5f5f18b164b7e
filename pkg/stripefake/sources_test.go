package stripefake_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76"

	"github.com/stripesync/stripesync/pkg/stripefake"
)

// firstCustomerWithAllSources returns a customer of the account holding a
// card, a bank account and a source object, as the seed's first one does.
func firstCustomerWithAllSources(t *testing.T, srv *stripefake.Server, acct string) string {
	t.Helper()
	for _, id := range srv.IDs(acct, "customer") {
		if len(srv.ChildIDs(acct, "card", id)) > 0 && len(srv.ChildIDs(acct, "bank_account", id)) > 0 &&
			len(srv.ChildIDs(acct, "source", id)) > 0 {
			return id
		}
	}
	require.FailNow(t, "no customer with every kind of source", "account %q", acct)
	return ""
}

// rawPages pages path with limit=1 and raw GETs and returns the ids in list
// order: forwards from the start, or, given a cursor in before, backwards
// with ending_before from it (the ids listed before it).
func (b *testBundle) rawPages(t *testing.T, path, before string, header ...string) []string {
	t.Helper()
	var ids []string
	cursor := before
	for {
		url := path + "?limit=1"
		switch {
		case before != "":
			url += "&ending_before=" + cursor
		case cursor != "":
			url += "&starting_after=" + cursor
		}
		resp, body, m := b.get(t, url, header...)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.Equal(t, path, m["url"])
		page := listIDs(t, m)
		if before != "" {
			ids = append(page, ids...)
		} else {
			ids = append(ids, page...)
		}
		if !m["has_more"].(bool) {
			return ids
		}
		cursor = page[len(page)-1]
		if before != "" {
			cursor = page[0]
		}
	}
}

func TestCustomerSources(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 12, ConnectedAccounts: 1, ConnectedCustomers: 4, RandSeed: 21})

	t.Run("PaymentSourcesPageInListOrder", func(t *testing.T) {
		t.Parallel()
		with := 0
		for _, cust := range b.srv.IDs("", "customer") {
			want := b.srv.SourceIDs("", cust)
			params := &stripe.PaymentSourceListParams{Customer: stripe.String(cust)}
			params.Limit = stripe.Int64(1)
			it := b.api.PaymentSources.List(params)
			var got []string
			for it.Next() {
				ps := it.PaymentSource()
				got = append(got, ps.ID)
				switch ps.Type {
				case stripe.PaymentSourceTypeCard:
					require.Equal(t, cust, ps.Card.Customer.ID)
				case stripe.PaymentSourceTypeBankAccount:
					require.Equal(t, cust, ps.BankAccount.Customer.ID)
				case stripe.PaymentSourceTypeSource:
					require.Equal(t, cust, ps.Source.Customer)
					require.Equal(t, "card", ps.Source.Type)
				default:
					require.FailNow(t, "unexpected source type", "%s is %q", ps.ID, ps.Type)
				}
			}
			require.NoError(t, it.Err())
			require.Equal(t, want, got, cust)
			if len(want) == 0 {
				continue
			}
			with++
			c, err := b.api.Customers.Get(cust, nil)
			require.NoError(t, err)
			require.Equal(t, want[len(want)-1], c.DefaultSource.ID, "the oldest source is the default")
		}
		require.Greater(t, with, 1, "the seed gives sources to more than the first customer")
	})

	t.Run("ObjectFilterWithCardsAndBankAccountsClients", func(t *testing.T) {
		t.Parallel()
		cust := firstCustomerWithAllSources(t, b.srv, "")
		var cards []string
		cit := b.api.Cards.List(&stripe.CardListParams{Customer: stripe.String(cust)})
		for cit.Next() {
			require.Equal(t, "card", cit.Card().Object)
			cards = append(cards, cit.Card().ID)
		}
		require.NoError(t, cit.Err())
		require.Equal(t, b.srv.ChildIDs("", "card", cust), cards)

		var banks []string
		bit := b.api.BankAccounts.List(&stripe.BankAccountListParams{Customer: stripe.String(cust)})
		for bit.Next() {
			require.Equal(t, "110000000", bit.BankAccount().RoutingNumber)
			banks = append(banks, bit.BankAccount().ID)
		}
		require.NoError(t, bit.Err())
		require.Equal(t, b.srv.ChildIDs("", "bank_account", cust), banks)

		_, _, m := b.get(t, "/v1/customers/"+cust+"/sources?object=source")
		require.Equal(t, b.srv.ChildIDs("", "source", cust), listIDs(t, m))

		resp, _, m := b.get(t, "/v1/customers/"+cust+"/sources?object=payment_method")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "object", m["error"].(map[string]any)["param"])
	})

	t.Run("RawPagingBothWaysAndRetrieve", func(t *testing.T) {
		t.Parallel()
		cust := firstCustomerWithAllSources(t, b.srv, "")
		want := b.srv.SourceIDs("", cust)
		path := "/v1/customers/" + cust + "/sources"
		require.Equal(t, want, b.rawPages(t, path, ""))
		last := want[len(want)-1]
		require.Equal(t, want[:len(want)-1], b.rawPages(t, path, last))

		for _, id := range want {
			_, body, m := b.get(t, path+"/"+id)
			require.Equal(t, id, m["id"], string(body))
			require.Equal(t, cust, m["customer"])
			require.NotContains(t, m, "account")
			obj, ok := b.srv.Object("", m["object"].(string), id)
			require.True(t, ok)
			require.Equal(t, cust, obj["customer"])
		}
		other := b.srv.IDs("", "customer")[0]
		if other == cust {
			other = b.srv.IDs("", "customer")[1]
		}
		resp, _, m := b.get(t, "/v1/customers/"+other+"/sources/"+want[0])
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		require.Equal(t, "resource_missing", m["error"].(map[string]any)["code"])

		_, _, c := b.get(t, "/v1/customers/"+cust+"?expand[]=sources")
		sources := c["sources"].(map[string]any)
		require.Equal(t, path, sources["url"])
		require.Equal(t, want, listIDs(t, sources))
		_, _, c = b.get(t, "/v1/customers/"+cust)
		require.NotContains(t, c, "sources", "shown only when expanded since 2020-08-27")
	})

	t.Run("OnConnectedAccount", func(t *testing.T) {
		t.Parallel()
		acct := b.srv.ConnectedAccounts()[0]
		cust := firstCustomerWithAllSources(t, b.srv, acct)
		params := &stripe.PaymentSourceListParams{Customer: stripe.String(cust)}
		params.SetStripeAccount(acct)
		it := b.api.PaymentSources.List(params)
		var got []string
		for it.Next() {
			got = append(got, it.PaymentSource().ID)
		}
		require.NoError(t, it.Err())
		require.Equal(t, b.srv.SourceIDs(acct, cust), got)
		require.Empty(t, b.srv.SourceIDs("", cust))
	})
}

func TestExternalAccounts(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 3, ConnectedAccounts: 3, ConnectedCustomers: 2, RandSeed: 22})
	accounts := b.srv.ConnectedAccounts()
	require.Len(t, accounts, 3)

	t.Run("EveryConnectedAccountHasSome", func(t *testing.T) {
		t.Parallel()
		sizes := map[int]int{}
		for _, acct := range accounts {
			ids := b.srv.ExternalAccountIDs(acct)
			require.NotEmpty(t, ids)
			sizes[len(ids)]++
			got := b.rawPages(t, "/v1/accounts/"+acct+"/external_accounts", "")
			require.Equal(t, ids, got)
			for _, id := range ids {
				_, _, m := b.get(t, "/v1/accounts/"+acct+"/external_accounts/"+id)
				require.Equal(t, acct, m["account"])
				require.NotContains(t, m, "customer")
			}
		}
		require.Equal(t, 1, sizes[12], "the first connected account has 12")
	})

	// big is the connected account seeded with 12 external accounts.
	big := ""
	for _, acct := range accounts {
		if len(b.srv.ExternalAccountIDs(acct)) == 12 {
			big = acct
		}
	}
	require.NotEmpty(t, big)

	t.Run("StripeGoPagesTwelve", func(t *testing.T) {
		t.Parallel()
		want := b.srv.ExternalAccountIDs(big)
		bp := &stripe.BankAccountListParams{Account: stripe.String(big)}
		bp.Limit = stripe.Int64(5)
		var banks []string
		bit := b.api.BankAccounts.List(bp)
		for bit.Next() {
			require.Equal(t, big, bit.BankAccount().Account.ID)
			banks = append(banks, bit.BankAccount().ID)
		}
		require.NoError(t, bit.Err())
		require.Equal(t, b.srv.ChildIDs(big, "bank_account", big), banks)

		var cards []string
		cp := &stripe.CardListParams{Account: stripe.String(big)}
		cp.Limit = stripe.Int64(2)
		cit := b.api.Cards.List(cp)
		for cit.Next() {
			require.Equal(t, stripe.CardFundingDebit, cit.Card().Funding)
			cards = append(cards, cit.Card().ID)
		}
		require.NoError(t, cit.Err())
		require.Equal(t, b.srv.ChildIDs(big, "card", big), cards)
		require.Len(t, append(banks, cards...), len(want))
		require.ElementsMatch(t, want, append(banks, cards...))

		got := b.rawPages(t, "/v1/accounts/"+big+"/external_accounts", want[11])
		require.Equal(t, want[:11], got, "ending_before pages back to the same ids")
	})

	t.Run("AccountEmbedsFirstTen", func(t *testing.T) {
		t.Parallel()
		want := b.srv.ExternalAccountIDs(big)
		a, err := b.api.Accounts.GetByID(big, nil)
		require.NoError(t, err)
		ea := a.ExternalAccounts
		require.True(t, ea.HasMore)
		//lint:ignore SA1019 Stripe still renders total_count on nested lists, and the fake must too
		require.EqualValues(t, 12, ea.TotalCount)
		require.Equal(t, "/v1/accounts/"+big+"/external_accounts", ea.URL)
		require.Len(t, ea.Data, 10)
		for i, x := range ea.Data {
			require.Equal(t, want[i], x.ID)
		}

		var listed *stripe.Account
		it := b.api.Accounts.List(&stripe.AccountListParams{})
		for it.Next() {
			if it.Account().ID == big {
				listed = it.Account()
			}
		}
		require.NoError(t, it.Err())
		require.NotNil(t, listed)
		require.Len(t, listed.ExternalAccounts.Data, 10)
		require.True(t, listed.ExternalAccounts.HasMore)

		obj, ok := b.srv.Object("", "account", big)
		require.True(t, ok)
		require.Len(t, obj["external_accounts"].(map[string]any)["data"], 10)

		_, _, self := b.get(t, "/v1/account", "Stripe-Account", big)
		require.EqualValues(t, 12, self["external_accounts"].(map[string]any)["total_count"])
	})

	t.Run("StripeAccountHeader", func(t *testing.T) {
		t.Parallel()
		path := "/v1/accounts/" + big + "/external_accounts"
		require.Equal(t, b.srv.ExternalAccountIDs(big), b.rawPages(t, path, "", "Stripe-Account", big))

		other := accounts[0]
		if other == big {
			other = accounts[1]
		}
		resp, _, m := b.get(t, path, "Stripe-Account", other)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		require.Equal(t, "resource_missing", m["error"].(map[string]any)["code"])

		id := b.srv.ExternalAccountIDs(big)[0]
		resp, _, _ = b.get(t, "/v1/accounts/"+other+"/external_accounts/"+id)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "an external account of another account")

		resp, _, m = b.get(t, path+"?object=source")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "object", m["error"].(map[string]any)["param"])

		resp, _, _ = b.get(t, "/v1/accounts/acct_1NotConnected000/external_accounts")
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
}

func TestSourcesSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	opts := stripefake.SeedOptions{Customers: 20, ConnectedAccounts: 2, RandSeed: 23, Now: now}
	build := func() *stripefake.Server {
		s := stripefake.New(stripefake.Options{NowFunc: nowFunc})
		require.NoError(t, stripefake.Seed(s, opts))
		return s
	}
	a, b := build(), build()
	for _, acct := range append(a.ConnectedAccounts(), "") {
		for _, cust := range a.IDs(acct, "customer") {
			require.Equal(t, a.SourceIDs(acct, cust), b.SourceIDs(acct, cust))
		}
	}
	for _, acct := range a.ConnectedAccounts() {
		require.Equal(t, a.ExternalAccountIDs(acct), b.ExternalAccountIDs(acct))
	}
}

func TestAttachCard(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 1, RandSeed: 24})
	cust := b.srv.IDs("", "customer")[0]
	before := b.srv.SourceIDs("", cust)
	require.NotEmpty(t, before, "the first customer always has sources")

	ev, err := b.srv.AttachCard("", cust, map[string]any{"last4": "0005", "brand": "American Express"})
	require.NoError(t, err)
	require.Equal(t, "customer.source.created", ev.Type)
	require.Equal(t, append([]string{ev.ObjectID}, before...), b.srv.SourceIDs("", cust), "newest first")

	card, err := b.api.Cards.Get(ev.ObjectID, &stripe.CardParams{Customer: stripe.String(cust)})
	require.NoError(t, err)
	require.Equal(t, "0005", card.Last4)
	require.Equal(t, stripe.CardBrandAmericanExpress, card.Brand)

	c, err := b.api.Customers.Get(cust, nil)
	require.NoError(t, err)
	require.Equal(t, before[len(before)-1], c.DefaultSource.ID, "the default source stays")

	params := &stripe.EventListParams{Type: stripe.String("customer.source.created")}
	it := b.api.Events.List(params)
	require.True(t, it.Next())
	require.Equal(t, ev.ID, it.Event().ID)

	t.Run("FirstSourceBecomesDefault", func(t *testing.T) {
		t.Parallel()
		ev, err := b.srv.CreateCustomer("", nil)
		require.NoError(t, err)
		fresh := ev.ObjectID
		ev, err = b.srv.AttachCard("", fresh, nil)
		require.NoError(t, err)
		c, ok := b.srv.Object("", "customer", fresh)
		require.True(t, ok)
		require.Equal(t, ev.ObjectID, c["default_source"])

		_, err = b.srv.Delete("", "card", ev.ObjectID)
		require.NoError(t, err)
		c, _ = b.srv.Object("", "customer", fresh)
		require.Nil(t, c["default_source"], "detaching the only source clears the default")
		require.Empty(t, b.srv.SourceIDs("", fresh))
	})

	t.Run("UnknownCustomer", func(t *testing.T) {
		t.Parallel()
		_, err := b.srv.AttachCard("", "cus_nope", nil)
		require.Error(t, err)
	})
}
