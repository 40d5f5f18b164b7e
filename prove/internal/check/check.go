// Package check compares the mirror with the state the event set must
// produce (corpus.Expected) and with the fake Stripe's own objects, and
// counts every way they differ.
package check

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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
	// DeadLetters: rows of stripe.dead_letters (every event here can be
	// applied).
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
func Compare(ctx context.Context, pool *pgxpool.Pool, exp corpus.Expected, accepted map[string]time.Time, fake Fake) (Counts, error) {
	var c Counts
	if err := compareEvents(ctx, pool, exp, accepted, &c); err != nil {
		return c, err
	}
	if err := compareSnapshot(ctx, pool, exp, &c); err != nil {
		return c, err
	}
	if err := compareFake(ctx, pool, fake, &c); err != nil {
		return c, err
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM stripe.dead_letters`).Scan(&c.DeadLetters); err != nil {
		return c, err
	}
	return c, nil
}

func compareEvents(ctx context.Context, pool *pgxpool.Pool, exp corpus.Expected, accepted map[string]time.Time, c *Counts) error {
	rows, err := pool.Query(ctx, `SELECT id, count(*) FROM stripe.events GROUP BY id`)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return err
		}
		seen[id] = true
		if n > 1 {
			c.AppliedTwice += n - 1
			c.example("event %s stored %d times", id, n)
		}
		if !exp.EventIDs[id] {
			c.Unexpected++
			c.example("event %s stored but never sent", id)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for id := range exp.EventIDs {
		if seen[id] {
			continue
		}
		c.EventsLost++
		if _, ok := accepted[id]; ok {
			c.AcceptedMissing++
			c.example("event %s got a 2xx and is not in stripe.events", id)
		} else {
			c.example("event %s never got a 2xx", id)
		}
	}
	return nil
}

type row struct {
	account string
	data    json.RawMessage
	deleted bool
}

func customers(ctx context.Context, pool *pgxpool.Pool, ids []string) (map[string]row, error) {
	rows, err := pool.Query(ctx, `SELECT id, coalesce(account, ''), data, deleted FROM stripe.customers WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]row{}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.account, &r.data, &r.deleted); err != nil {
			return nil, err
		}
		out[id] = r
	}
	return out, rows.Err()
}

func compareSnapshot(ctx context.Context, pool *pgxpool.Pool, exp corpus.Expected, c *Counts) error {
	ids := make([]string, 0, len(exp.Snapshot))
	for id := range exp.Snapshot {
		ids = append(ids, id)
	}
	got, err := customers(ctx, pool, ids)
	if err != nil {
		return err
	}
	for id, want := range exp.Snapshot {
		r, ok := got[id]
		switch {
		case !ok:
			c.ObjectsLost++
			c.example("customer %s has no row", id)
		case sameJSON(r.data, want.Object) && r.deleted == want.Deleted && r.account == want.Account:
		case isOlder(r.data, exp.Older[id]):
			c.Stale++
			c.example("customer %s holds an older state than event %s", id, want.EventID)
		default:
			c.Wrong++
			c.example("customer %s: deleted %v (want %v), account %q (want %q), data %s", id, r.deleted, want.Deleted, r.account, want.Account, r.data)
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
func compareFake(ctx context.Context, pool *pgxpool.Pool, fake Fake, c *Counts) error {
	for _, account := range append([]string{""}, fake.Accounts...) {
		objs, err := fake.list(ctx, "/v1/customers", account)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(objs))
		for id := range objs {
			ids = append(ids, id)
		}
		got, err := customers(ctx, pool, ids)
		if err != nil {
			return err
		}
		for id, want := range objs {
			r, ok := got[id]
			switch {
			case !ok:
				c.ObjectsLost++
				c.example("fake customer %s (account %q) has no row", id, account)
			case !sameJSON(r.data, want) || r.deleted || r.account != account:
				c.Wrong++
				c.example("fake customer %s differs from the fake's: deleted %v, account %q", id, r.deleted, r.account)
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
