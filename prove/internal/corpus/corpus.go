// Package corpus makes the event set of the faults-under-load suite and the
// state the mirror must hold once every event is applied, computed from the
// events alone (not from anything the services did).
//
// Two kinds of customer keep the expected state exact:
//
//   - snapshot customers, which only webhooks know (ids the fake Stripe does
//     not hold, so no backfill or fetch touches them): each has a history of
//     snapshot events a few seconds apart (never two in one second, where
//     the version rule falls back to stream order), some ending in
//     customer.deleted. The mirror must hold the newest event's object.
//   - thin customers, the fake Stripe's own: each gets thin events
//     (v1.customer.updated) naming it, and the backfill lists it. The fake
//     does not change during the run, so the mirror must hold the object as
//     the fake serves it.
//
// Every event is sent once, and one in Duplicates again; the order is
// shuffled, so each object's history arrives in any order.
package corpus

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// APIVersion is the version the snapshot events' objects are rendered in.
const APIVersion = "2026-10-28.endive"

// Event is one webhook to send.
type Event struct {
	ID   string
	Body []byte
}

// ThinTarget is a customer of the fake that thin events name.
type ThinTarget struct {
	ID      string
	Account string // "" for the platform
}

// Options size the set.
type Options struct {
	// SnapshotObjects and SnapshotEvents: the snapshot customers, and about
	// how many events their histories hold in all.
	SnapshotObjects, SnapshotEvents int
	// ThinEvents are spread over Thin, the fake's customers.
	ThinEvents int
	Thin       []ThinTarget
	// Accounts are connected accounts some snapshot customers belong to.
	Accounts []string
	// DeleteShare is the share of snapshot customers whose history ends in
	// customer.deleted; DuplicateShare the share of events sent twice.
	DeleteShare, DuplicateShare float64
	Seed                        uint64
	// Now dates the events: every one is created in the hour before it.
	Now time.Time
}

// Expected is the mirror's state once every event is applied.
type Expected struct {
	// EventIDs is every distinct event id: stripe.events must hold each
	// once, and nothing else.
	EventIDs map[string]bool
	// Snapshot is each snapshot customer's final state: the newest event's
	// object and whether that event deleted it.
	Snapshot map[string]Final
	// Older holds, per snapshot customer, the objects of its older events,
	// to tell a stale overwrite from any other wrong state.
	Older map[string][]json.RawMessage
	// Thin is the fake's customers that thin events name.
	Thin []ThinTarget
}

// Final is an object's newest state.
type Final struct {
	Account string
	Object  json.RawMessage
	Deleted bool
	EventID string
}

// Set is the sending order (duplicates included) and what it must produce.
type Set struct {
	Sends    []Event
	Distinct int
	Expected Expected
}

// Make builds the set.
func Make(o Options) (Set, error) {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	exp := Expected{EventIDs: map[string]bool{}, Snapshot: map[string]Final{}, Older: map[string][]json.RawMessage{}, Thin: o.Thin}
	var distinct []Event
	base := o.Now.Add(-time.Hour).Unix()

	perObject := max(1, o.SnapshotEvents/max(1, o.SnapshotObjects))
	for i := range o.SnapshotObjects {
		id := fmt.Sprintf("cus_proveSnap%06d", i)
		account := ""
		if len(o.Accounts) > 0 && i%3 == 2 {
			account = o.Accounts[i%len(o.Accounts)]
		}
		// Histories of 1 to 2×perObject-1 events, perObject on average.
		n := 1 + rng.IntN(2*perObject-1)
		deleted := n > 1 && rng.Float64() < o.DeleteShare // a history starts with customer.created
		created := base + int64(rng.IntN(600))
		for j := range n {
			created += 1 + int64(rng.IntN(3)) // never two events of one object in a second
			typ := "customer.updated"
			obj := map[string]any{
				"id": id, "object": "customer", "created": base, "livemode": false,
				"email":    fmt.Sprintf("%s+%d@prove.example", id, j),
				"name":     fmt.Sprintf("Prove %d rev %d", i, j),
				"metadata": map[string]any{"rev": fmt.Sprint(j)},
				"balance":  j,
			}
			switch {
			case j == 0:
				typ = "customer.created"
			case j == n-1 && deleted:
				typ = "customer.deleted"
				obj = map[string]any{"id": id, "object": "customer", "deleted": true}
			}
			evID := fmt.Sprintf("evt_proveSnap%06d_%03d", i, j)
			ev := map[string]any{
				"id": evID, "object": "event", "api_version": APIVersion, "created": created,
				"data": map[string]any{"object": obj}, "livemode": false, "pending_webhooks": 1,
				"request": map[string]any{"id": nil, "idempotency_key": nil}, "type": typ,
			}
			if account != "" {
				ev["account"] = account
			}
			body, err := json.Marshal(ev)
			if err != nil {
				return Set{}, err
			}
			objBytes, _ := json.Marshal(obj)
			if j < n-1 {
				exp.Older[id] = append(exp.Older[id], objBytes)
			} else {
				exp.Snapshot[id] = Final{Account: account, Object: objBytes, Deleted: deleted, EventID: evID}
			}
			distinct = append(distinct, Event{ID: evID, Body: body})
		}
	}
	for k := range o.ThinEvents {
		if len(o.Thin) == 0 {
			break
		}
		t := o.Thin[rng.IntN(len(o.Thin))]
		evID := fmt.Sprintf("evt_proveThin%07d", k)
		ev := map[string]any{
			"id": evID, "object": "v2.core.event", "type": "v1.customer.updated", "livemode": false,
			"created":        time.Unix(base+int64(rng.IntN(3600)), int64(rng.IntN(1000))*int64(time.Millisecond)).UTC().Format("2006-01-02T15:04:05.000Z"),
			"reason":         nil,
			"related_object": map[string]any{"id": t.ID, "type": "customer", "url": "/v1/customers/" + t.ID},
		}
		if t.Account != "" {
			ev["context"] = t.Account
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return Set{}, err
		}
		distinct = append(distinct, Event{ID: evID, Body: body})
	}
	for _, e := range distinct {
		exp.EventIDs[e.ID] = true
	}
	sends := append([]Event(nil), distinct...)
	for _, e := range distinct {
		if rng.Float64() < o.DuplicateShare {
			sends = append(sends, e)
		}
	}
	rng.Shuffle(len(sends), func(i, j int) { sends[i], sends[j] = sends[j], sends[i] })
	return Set{Sends: sends, Distinct: len(distinct), Expected: exp}, nil
}
