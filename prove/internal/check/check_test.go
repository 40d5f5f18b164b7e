package check_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/prove/internal/check"
	"github.com/stripesync/stripesync/prove/internal/corpus"
)

// TestCompare plants each difference the check exists to find in a mirror
// that is otherwise what the event set must produce, and requires the check
// to count it, and nothing else.
func TestCompare(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	customer := catalog.MustLookup("customer")

	type testBundle struct {
		pool     *pgxpool.Pool
		set      corpus.Set
		accepted map[string]time.Time
		fake     check.Fake
		// fakeRows are the fake's customers as it serves them: what their
		// rows must hold.
		fakeRows []db.Object
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		fs := stripefake.New(stripefake.Options{})
		for _, email := range []string{"thin1@prove.example", "thin2@prove.example"} {
			_, err := fs.CreateCustomer("", map[string]any{"email": email})
			require.NoError(t, err)
		}
		b := &testBundle{pool: dbtest.New(t), accepted: map[string]time.Time{},
			fake: check.Fake{BaseURL: fs.Start(t), Key: stripefake.TestKey, APIVersion: corpus.APIVersion}}
		var thin []corpus.ThinTarget
		for _, id := range fs.IDs("", "customer") {
			thin = append(thin, corpus.ThinTarget{ID: id})
			b.fakeRows = append(b.fakeRows, db.Object{ID: id, Data: fetch(t, b.fake, id), StateAt: now})
		}
		var err error
		b.set, err = corpus.Make(corpus.Options{SnapshotObjects: 8, SnapshotEvents: 32, ThinEvents: 6, Thin: thin,
			Accounts: []string{"acct_1ProveConnected"}, DeleteShare: 0.3, DuplicateShare: 0.2, Seed: 9, Now: now})
		require.NoError(t, err)
		for id := range b.set.Expected.EventIDs {
			b.accepted[id] = now
		}
		return b
	}
	// mirror writes what a correct run leaves, except for the event ids and
	// object ids in skip: every event once, each snapshot customer's newest
	// state, and each of the fake's customers as the fake serves it.
	mirror := func(t *testing.T, b *testBundle, skip ...string) {
		t.Helper()
		skipped := map[string]bool{}
		for _, id := range skip {
			skipped[id] = true
		}
		var evs []db.Event
		for _, e := range b.set.Sends {
			if !skipped[e.ID] && !skipped["sent:"+e.ID] {
				skipped["sent:"+e.ID] = true // a duplicate send is stored once
				evs = append(evs, storedEvent(t, e))
			}
		}
		_, err := db.InsertEvents(t.Context(), b.pool, evs)
		require.NoError(t, err)
		var objs []db.Object
		for id, f := range b.set.Expected.Snapshot {
			if !skipped[id] {
				objs = append(objs, db.Object{ID: id, Account: f.Account, Deleted: f.Deleted, Data: f.Object, StateAt: now, EventID: f.EventID})
			}
		}
		for _, o := range b.fakeRows {
			if !skipped[o.ID] {
				objs = append(objs, o)
			}
		}
		_, err = db.UpsertObjects(t.Context(), b.pool, customer, objs)
		require.NoError(t, err)
	}
	compare := func(t *testing.T, b *testBundle) check.Counts {
		t.Helper()
		c, err := check.Compare(t.Context(), b.pool, b.set.Expected, b.accepted, b.fake)
		require.NoError(t, err)
		t.Logf("counts %+v", c)
		return c
	}
	// anEvent is an event of the set, the first in sending order.
	anEvent := func(b *testBundle) string { return b.set.Sends[0].ID }

	t.Run("CorrectMirrorCountsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		mirror(t, b)
		c := compare(t, b)
		require.Zero(t, c.Total(), "%+v", c)
		require.Zero(t, c.AcceptedMissing)
		require.Empty(t, c.Examples)
	})

	t.Run("LostEventThatNeverGotA2xx", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		lost := anEvent(b)
		delete(b.accepted, lost)
		mirror(t, b, lost)
		c := compare(t, b)
		require.Equal(t, 1, c.EventsLost)
		require.Zero(t, c.AcceptedMissing, "no 2xx: Stripe keeps retrying it, the events catch-up brings it")
		require.Equal(t, 1, c.Total())
		require.Equal(t, []string{"event " + lost + " never got a 2xx"}, c.Examples)
	})

	t.Run("AcceptedEventMissing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		lost := anEvent(b)
		mirror(t, b, lost)
		c := compare(t, b)
		require.Equal(t, 1, c.EventsLost)
		require.Equal(t, 1, c.AcceptedMissing, "a 2xx promised it is stored")
		require.Equal(t, 1, c.Total())
		require.Equal(t, []string{"event " + lost + " got a 2xx and is not in stripe.events"}, c.Examples)
	})

	// An event applied twice would be a second row of its id in
	// stripe.events: the only effect of an event that is not replaced by a
	// state at least as new. The primary key on id refuses that row, so the
	// schema cannot represent it: storing the event again stores nothing,
	// and the check, which counts the rows of each id, finds one.
	t.Run("EventStoredTwiceIsOneRow", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		mirror(t, b)
		again := storedEvent(t, b.set.Sends[0])
		stored, err := db.InsertEvents(t.Context(), b.pool, []db.Event{again})
		require.NoError(t, err)
		require.Empty(t, stored, "stored a second time")
		c := compare(t, b)
		require.Zero(t, c.AppliedTwice)
		require.Zero(t, c.Total(), "%+v", c)
	})

	t.Run("StaleOverwrite", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		mirror(t, b)
		// A customer whose newest event is an update, with older states:
		// its row is given the state of an older event, as a delivery
		// applied out of order without the version rule would leave it.
		var id string
		for _, cid := range slices.Sorted(maps.Keys(b.set.Expected.Snapshot)) {
			if f := b.set.Expected.Snapshot[cid]; !f.Deleted && len(b.set.Expected.Older[cid]) > 0 {
				id = cid
				break
			}
		}
		require.NotEmpty(t, id, "the set holds no customer with older states")
		f := b.set.Expected.Snapshot[id]
		_, err := db.UpsertObjects(t.Context(), b.pool, customer, []db.Object{{ID: id, Account: f.Account,
			Data: b.set.Expected.Older[id][0], StateAt: now.Add(time.Second), EventID: "evt_older"}})
		require.NoError(t, err)
		c := compare(t, b)
		require.Equal(t, 1, c.Stale)
		require.Equal(t, 1, c.Total(), "%+v", c)
		require.Equal(t, []string{"customer " + id + " holds an older state than event " + f.EventID}, c.Examples)
	})

	t.Run("WrongDeletionMark", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var id string
		for _, cid := range slices.Sorted(maps.Keys(b.set.Expected.Snapshot)) {
			if !b.set.Expected.Snapshot[cid].Deleted {
				id = cid
				break
			}
		}
		mirror(t, b)
		require.NoError(t, db.MarkDeleted(t.Context(), b.pool, customer, []db.Tombstone{{ID: id, Account: b.set.Expected.Snapshot[id].Account, StateAt: now.Add(time.Second)}}))
		c := compare(t, b)
		require.Equal(t, 1, c.Wrong, "deleted while its newest event is not a deletion")
		require.Equal(t, 1, c.Total(), "%+v", c)
	})

	t.Run("EventNeverSent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		mirror(t, b)
		_, err := db.InsertEvents(t.Context(), b.pool, []db.Event{{ID: "evt_neverSent", Type: "customer.updated", Created: now, Data: []byte(`{"id":"evt_neverSent"}`)}})
		require.NoError(t, err)
		c := compare(t, b)
		require.Equal(t, 1, c.Unexpected)
		require.Equal(t, 1, c.Total(), "%+v", c)
	})

	t.Run("RowsLost", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		snap := slices.Sorted(maps.Keys(b.set.Expected.Snapshot))[0]
		mirror(t, b, snap, b.fakeRows[0].ID)
		c := compare(t, b)
		require.Equal(t, 2, c.ObjectsLost, "a snapshot customer and one of the fake's")
		require.Equal(t, 2, c.Total(), "%+v", c)
	})

	t.Run("FakeCustomerDiffers", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fakeRows[1].Data = []byte(`{"id":"` + b.fakeRows[1].ID + `","object":"customer","email":"old@prove.example"}`)
		mirror(t, b)
		c := compare(t, b)
		require.Equal(t, 1, c.Wrong, "a row that is not the fake's object")
		require.Equal(t, 1, c.Total(), "%+v", c)
	})

	t.Run("DeadLetter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		mirror(t, b)
		require.NoError(t, db.InsertDeadLetter(t.Context(), b.pool, db.DeadLetter{Subject: "stripe.event.customer.updated",
			StreamSeq: 7, EventID: anEvent(b), NumDelivered: 1, Reason: "planted", Payload: []byte(`{}`)}))
		c := compare(t, b)
		require.Equal(t, 1, c.DeadLetters)
		require.Equal(t, 1, c.Total(), "%+v", c)
	})
}

// storedEvent is e as the processor stores it. The check reads only the id;
// the type is the event's own.
func storedEvent(t *testing.T, e corpus.Event) db.Event {
	t.Helper()
	var head struct{ Type string }
	require.NoError(t, json.Unmarshal(e.Body, &head))
	return db.Event{ID: e.ID, Type: head.Type, Created: time.Now(), Data: e.Body}
}

// fetch retrieves a customer of the fake's platform as the fake renders it.
func fetch(t *testing.T, f check.Fake, id string) json.RawMessage {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.BaseURL+"/v1/customers/"+id, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+f.Key)
	req.Header.Set("Stripe-Version", f.APIVersion)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var obj json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&obj))
	return obj
}
