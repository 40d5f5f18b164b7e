// Package check compares the mirror with the state the event set must
// produce (corpus.Expected) and with the fake Stripe's own objects, and
// counts every way they differ.
package check

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"time"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/prove/internal/corpus"
)

// Counts are the differences found; a correct run has every one at 0.
type Counts struct {
	// EventsLost: events of the set missing from stripe.events.
	EventsLost int
	// AcceptedMissing: of those, the ones ingest answered 2xx for.
	AcceptedMissing int
	// AppliedTwice: event ids stored more than once in stripe.events.
	AppliedTwice int
	// Unexpected: events in stripe.events that the set does not hold.
	Unexpected int
	// ObjectsLost: customers the set or the fake holds without a row.
	ObjectsLost int
	// Stale: rows holding an older state of their object than its newest.
	Stale int
	// Wrong: rows holding a state that is neither the newest nor an older
	// one (or the wrong deletion mark or account).
	Wrong int
	// DeadLetters: rows of stripe.dead_letters not replayed (every event
	// here can be applied).
	DeadLetters int
	// Examples name a few of the differences, for the log.
	Examples []string
}

// Total is the sum of the counts.
func (c Counts) Total() int {
	return c.EventsLost + c.AppliedTwice + c.Unexpected + c.ObjectsLost + c.Stale + c.Wrong + c.DeadLetters
}

func (c *Counts) example(format string, args ...any) {
	if len(c.Examples) < 10 {
		c.Examples = append(c.Examples, fmt.Sprintf(format, args...))
	}
}

// Fake is how to read the fake Stripe's objects.
type Fake struct {
	BaseURL, Key, APIVersion string
	Accounts                 []string // the connected accounts; the platform is always read
}

// Compare counts the differences between the database and exp, and between
// the database and the fake's customers. accepted holds the events that got
// a 2xx.
func Compare(ctx context.Context, tx db.DBTX, exp corpus.Expected, accepted map[string]time.Time, fake Fake) (Counts, error) {
	var c Counts
	if err := compareEvents(ctx, tx, exp, accepted, &c); err != nil {
		return c, err
	}
	if err := compareSnapshot(ctx, tx, exp, &c); err != nil {
		return c, err
	}
	if err := compareFake(ctx, tx, fake, &c); err != nil {
		return c, err
	}
	byReason, err := db.DeadLettersByReason(ctx, tx)
	if err != nil {
		return c, err
	}
	for reason, n := range byReason {
		c.DeadLetters += int(n)
		c.example("%d dead letters: %s", n, reason)
	}
	return c, nil
}

// compareEvents counts the events of the set that stripe.events lacks or
// holds more than once, and those it holds beyond the set. More than once
// cannot happen while stripe.events keeps id as its primary key; the count
// is kept so that the check reports what it reads, not what it assumes.
func compareEvents(ctx context.Context, tx db.DBTX, exp corpus.Expected, accepted map[string]time.Time, c *Counts) error {
	ids := slices.Sorted(maps.Keys(exp.EventIDs))
	stored, err := db.EventReceipts(ctx, tx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		r, ok := stored[id]
		switch {
		case !ok:
			c.EventsLost++
			if _, ok := accepted[id]; ok {
				c.AcceptedMissing++
				c.example("event %s got a 2xx and is not in stripe.events", id)
			} else {
				c.example("event %s never got a 2xx", id)
			}
		case r.Copies > 1:
			c.AppliedTwice += r.Copies - 1
			c.example("event %s stored %d times", id, r.Copies)
		}
	}
	extra, err := db.EventsNotAmong(ctx, tx, ids)
	if err != nil {
		return err
	}
	for _, id := range extra {
		c.Unexpected++
		c.example("event %s stored but never sent", id)
	}
	return nil
}

// customers returns the rows of stripe.customers that ids have, by id.
func customers(ctx context.Context, tx db.DBTX, ids []string) (map[string]db.Object, error) {
	rows, err := db.ObjectsByID(ctx, tx, catalog.MustLookup("customer"), ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]db.Object, len(rows))
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}

func compareSnapshot(ctx context.Context, tx db.DBTX, exp corpus.Expected, c *Counts) error {
	got, err := customers(ctx, tx, slices.Sorted(maps.Keys(exp.Snapshot)))
	if err != nil {
		return err
	}
	for id, want := range exp.Snapshot {
		r, ok := got[id]
		switch {
		case !ok:
			c.ObjectsLost++
			c.example("customer %s has no row", id)
		case sameJSON(r.Data, want.Object) && r.Deleted == want.Deleted && r.Account == want.Account:
		case isOlder(r.Data, exp.Older[id]):
			c.Stale++
			c.example("customer %s holds an older state than event %s", id, want.EventID)
		default:
			c.Wrong++
			c.example("customer %s: deleted %v (want %v), account %q (want %q), data %s", id, r.Deleted, want.Deleted, r.Account, want.Account, r.Data)
		}
	}
	return nil
}

func isOlder(data json.RawMessage, older []json.RawMessage) bool {
	for _, o := range older {
		if sameJSON(data, o) {
			return true
		}
	}
	return false
}

// compareFake compares every customer the fake holds, on the platform and
// each connected account, with its row: the backfill lists them all and
// thin events make the processor fetch them.
func compareFake(ctx context.Context, tx db.DBTX, fake Fake, c *Counts) error {
	for _, account := range append([]string{""}, fake.Accounts...) {
		objs, err := fake.list(ctx, "/v1/customers", account)
		if err != nil {
			return err
		}
		got, err := customers(ctx, tx, slices.Sorted(maps.Keys(objs)))
		if err != nil {
			return err
		}
		for id, want := range objs {
			r, ok := got[id]
			switch {
			case !ok:
				c.ObjectsLost++
				c.example("fake customer %s (account %q) has no row", id, account)
			case !sameJSON(r.Data, want) || r.Deleted || r.Account != account:
				c.Wrong++
				c.example("fake customer %s differs from the fake's: deleted %v, account %q", id, r.Deleted, r.Account)
			}
		}
	}
	return nil
}

// AccountIDs lists the fake's connected accounts.
func (f Fake) AccountIDs(ctx context.Context) ([]string, error) {
	objs, err := f.list(ctx, "/v1/accounts", "")
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(objs))
	for id := range objs {
		ids = append(ids, id)
	}
	return ids, nil
}

// CustomerIDs lists the ids of an account's customers.
func (f Fake) CustomerIDs(ctx context.Context, account string) ([]string, error) {
	objs, err := f.list(ctx, "/v1/customers", account)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(objs))
	for id := range objs {
		ids = append(ids, id)
	}
	return ids, nil
}

// list pages through a list of the fake, as the syncer does.
func (f Fake) list(ctx context.Context, path, account string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	after := ""
	for {
		q := url.Values{"limit": {"100"}}
		if after != "" {
			q.Set("starting_after", after)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.BaseURL+path+"?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+f.Key)
		req.Header.Set("Stripe-Version", f.APIVersion)
		if account != "" {
			req.Header.Set("Stripe-Account", account)
		}
		var page struct {
			Data    []json.RawMessage `json:"data"`
			HasMore bool              `json:"has_more"`
		}
		if err := getJSON(req, &page); err != nil {
			return nil, fmt.Errorf("list %s of %q on the fake: %w", path, account, err)
		}
		for _, o := range page.Data {
			var id struct{ ID string }
			if err := json.Unmarshal(o, &id); err != nil {
				return nil, err
			}
			out[id.ID] = o
			after = id.ID
		}
		if !page.HasMore || len(page.Data) == 0 {
			return out, nil
		}
	}
}

func getJSON(req *http.Request, v any) error {
	for attempt := 0; ; attempt++ {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusTooManyRequests && attempt < 20 {
			resp.Body.Close()
			time.Sleep(500 * time.Millisecond)
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}
}

// sameJSON compares two JSON documents by value: PostgreSQL's jsonb
// reorders keys.
func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
