package backfill

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripefake"
)

func TestPlanner(t *testing.T) {
	t.Parallel()

	const until = 4_000_000_000
	type planned struct {
		tasks    []*task
		state    planState
		requests int64
		err      error
	}
	// plan runs a planner for req from state, taking every task pushed
	// until stopAfter of them (0: all).
	plan := func(t *testing.T, b *testBundle, req Request, state planState, have map[string]bool, stopAfter int) planned {
		t.Helper()
		var got []*task
		before := b.fake.Stats().Requests
		p := &planner{
			api: b.api, req: req, cp: &checkpoints{kv: b.kv, run: req.RunID()}, state: state, have: have, warnf: b.log.Warn,
			push: func(t *task) bool {
				if stopAfter > 0 && len(got) == stopAfter {
					return false
				}
				got = append(got, t)
				return true
			},
		}
		err := p.run(t.Context())
		return planned{tasks: got, state: p.state, requests: b.fake.Stats().Requests - before, err: err}
	}
	byAccount := func(tasks []*task) map[string][]string {
		out := map[string][]string{}
		for _, t := range tasks {
			out[t.Account] = append(out[t.Account], t.Resource)
		}
		return out
	}
	find := func(t *testing.T, tasks []*task, account, object string) *task {
		t.Helper()
		i := slices.IndexFunc(tasks, func(t *task) bool { return t.Account == account && t.Resource == object })
		require.GreaterOrEqual(t, i, 0, "no task for %s of %q", object, account)
		return tasks[i]
	}
	created := func(t *testing.T, b *testBundle, account string) int64 {
		t.Helper()
		a, ok := b.fake.Object("", "account", account)
		require.True(t, ok)
		return a["created"].(int64)
	}

	setupPlanner := func(t *testing.T, connected int) *testBundle {
		t.Helper()
		return setup(t, stripefake.Options{}, stripefake.SeedOptions{ConnectedAccounts: connected})
	}

	t.Run("EveryResourceOfThePlatformAndOfEachConnectedAccount", func(t *testing.T) {
		t.Parallel()
		b := setupPlanner(t, 3)
		req := request(t, events.SyncRequest{})
		got := plan(t, b, req, planState{Until: until}, nil, 0)
		require.NoError(t, got.err)
		require.True(t, got.state.Done)

		accounts := b.fake.ConnectedAccounts()
		var all, connected []string
		for _, r := range req.Resources {
			all = append(all, r.Object)
			if !r.List.PlatformOnly {
				connected = append(connected, r.Object)
			}
		}
		require.Contains(t, all, "account")
		require.NotContains(t, connected, "account", "connected accounts have no connected accounts")
		require.NotContains(t, connected, "application_fee")
		want := map[string][]string{"": all}
		for _, a := range accounts {
			want[a] = connected
		}
		require.Equal(t, want, byAccount(got.tasks))
		// The platform first, then the accounts in the order Stripe lists
		// them, one account after the other.
		var order []string
		for _, t := range got.tasks {
			if len(order) == 0 || order[len(order)-1] != t.Account {
				order = append(order, t.Account)
			}
		}
		require.Equal(t, append([]string{""}, accounts...), order)
		// One request for the platform's creation time, one page of
		// accounts: a connected account's comes with it.
		require.EqualValues(t, 2, got.requests)
		require.Equal(t, accounts[len(accounts)-1], got.state.After)
	})

	t.Run("RangesSplitFromTheAccountsCreation", func(t *testing.T) {
		t.Parallel()
		b := setupPlanner(t, 1)
		acct := b.fake.ConnectedAccounts()[0]
		got := plan(t, b, request(t, events.SyncRequest{}), planState{Until: until}, nil, 0)
		require.NoError(t, got.err)

		cus := find(t, got.tasks, acct, "customer")
		require.Equal(t, task{ID: acct + ".customer", Account: acct, Resource: "customer", From: 0, To: until, Floor: created(t, b, acct)},
			task{ID: cus.ID, Account: cus.Account, Resource: cus.Resource, From: cus.From, To: cus.To, Floor: cus.Floor})
		require.NotZero(t, find(t, got.tasks, "", "customer").Floor, "the platform's creation, from GET /v1/account")
		// Subscriptions: the listing's status=all comes from the catalog
		// when the task runs; the task is the range.
		require.EqualValues(t, until, find(t, got.tasks, acct, "subscription").To)
		// Credit notes do not filter by created: one task, no range.
		cn := find(t, got.tasks, acct, "credit_note")
		require.Zero(t, cn.To)
		// Payment methods are listed per customer: the range is the
		// customers'.
		pm := find(t, got.tasks, acct, "payment_method")
		require.EqualValues(t, until, pm.To)
		require.Equal(t, created(t, b, acct), pm.Floor)
	})

	t.Run("SinceLimitsTheListingsByCreated", func(t *testing.T) {
		t.Parallel()
		b := setupPlanner(t, 1)
		acct := b.fake.ConnectedAccounts()[0]
		since := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
		got := plan(t, b, request(t, events.SyncRequest{Resources: []string{"customer", "credit_note", "tax_id"}, Since: since}), planState{Until: until}, nil, 0)
		require.NoError(t, got.err)
		require.EqualValues(t, 1, got.requests, "no creation times needed: one page of accounts")

		for _, acct := range []string{"", acct} {
			cus := find(t, got.tasks, acct, "customer")
			require.Equal(t, [3]int64{since.Unix(), until, 0}, [3]int64{cus.From, cus.To, cus.Floor})
			require.Zero(t, find(t, got.tasks, acct, "credit_note").To)
			// A new tax id of an old customer is new: since does not
			// apply to what is listed per parent.
			tax := find(t, got.tasks, acct, "tax_id")
			require.Equal(t, [2]int64{0, until}, [2]int64{tax.From, tax.To})
		}
	})

	t.Run("PlatformOnlyResourcesListNoAccounts", func(t *testing.T) {
		t.Parallel()
		b := setupPlanner(t, 3)
		got := plan(t, b, request(t, events.SyncRequest{Resources: []string{catalog.MustLookup("account").Relation()}}), planState{Until: until}, nil, 0)
		require.NoError(t, got.err)
		require.Equal(t, map[string][]string{"": {"account"}}, byAccount(got.tasks))
		require.EqualValues(t, 1, got.requests, "GET /v1/account only")
	})

	t.Run("OneAccount", func(t *testing.T) {
		t.Parallel()
		b := setupPlanner(t, 3)
		acct := b.fake.ConnectedAccounts()[1]
		got := plan(t, b, request(t, events.SyncRequest{Resources: []string{"account", "customer"}, Account: acct}), planState{Until: until}, nil, 0)
		require.NoError(t, got.err)
		require.Equal(t, map[string][]string{acct: {"customer"}}, byAccount(got.tasks))
		require.Equal(t, created(t, b, acct), got.tasks[0].Floor, "GET /v1/account as the account")
		require.EqualValues(t, 1, got.requests)
	})

	t.Run("ResourcesWithoutListingsSelectTheirListers", func(t *testing.T) {
		t.Parallel()
		b := setupPlanner(t, 2)
		got := plan(t, b, request(t, events.SyncRequest{Resources: []string{"card"}}), planState{Until: until}, nil, 0)
		require.NoError(t, got.err)
		accounts := b.fake.ConnectedAccounts()
		require.Equal(t, map[string][]string{"": {"account", "source"}, accounts[0]: {"source"}, accounts[1]: {"source"}}, byAccount(got.tasks))
	})

	t.Run("PlansAsTheTasksAreTaken", func(t *testing.T) {
		t.Parallel()
		b := setupPlanner(t, 250)
		req := request(t, events.SyncRequest{Resources: []string{"customer"}})
		got := plan(t, b, req, planState{Until: until}, nil, 5)
		require.ErrorIs(t, got.err, errStopped)
		require.Len(t, got.tasks, 5)
		require.EqualValues(t, 2, got.requests, "the platform's creation and the first page of accounts, not all three")
		// Saved: the tasks handed over, and one more (planned with its
		// account, refused by the queue), and the planning cursor.
		require.Len(t, b.checkpointKeys(t, req.RunID()), 6+1)
	})

	t.Run("ResumePlansOnlyTheAccountsAfterTheCursor", func(t *testing.T) {
		t.Parallel()
		b := setupPlanner(t, 3)
		accounts := b.fake.ConnectedAccounts()
		req := request(t, events.SyncRequest{Resources: []string{"customer", "price"}})
		have := map[string]bool{taskID(accounts[1], catalog.MustLookup("price")): true}
		got := plan(t, b, req, planState{Until: until, First: true, After: accounts[0]}, have, 0)
		require.NoError(t, got.err)
		require.Equal(t, map[string][]string{accounts[1]: {"customer"}, accounts[2]: {"customer", "price"}}, byAccount(got.tasks))
		require.EqualValues(t, 1, got.requests, "one page of accounts, after the cursor")
	})

	t.Run("ACursorAccountThatIsGonePlansAllAgain", func(t *testing.T) {
		t.Parallel()
		b := setupPlanner(t, 3)
		req := request(t, events.SyncRequest{Resources: []string{"customer"}})
		got := plan(t, b, req, planState{Until: until, First: true, After: "acct_1Gone000000000000"}, nil, 0)
		require.NoError(t, got.err)
		accounts := b.fake.ConnectedAccounts()
		require.Equal(t, map[string][]string{accounts[0]: {"customer"}, accounts[1]: {"customer"}, accounts[2]: {"customer"}}, byAccount(got.tasks))
		require.True(t, got.state.Done)
	})

	t.Run("CheckpointsHoldWhatWasPlanned", func(t *testing.T) {
		t.Parallel()
		b := setupPlanner(t, 2)
		req := request(t, events.SyncRequest{Resources: []string{"customer"}})
		got := plan(t, b, req, planState{Until: until}, nil, 0)
		require.NoError(t, got.err)
		cp := &checkpoints{kv: b.kv, run: req.RunID()}
		state, found, tasks, err := cp.load(t.Context())
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, got.state, state)
		require.Len(t, tasks, len(got.tasks))
		for _, t := range tasks {
			t.slot = 0
		}
		for _, t := range got.tasks {
			t.slot = 0
		}
		require.ElementsMatch(t, got.tasks, tasks)
	})
}
