package stripefake

import (
	"slices"
	"sort"
	"strings"

	"github.com/stripesync/stripesync/pkg/catalog"
)

// record is one stored object plus the keys the fake sorts and pages by.
type record struct {
	object  string
	id      string
	created int64 // sort key; children without a created field borrow their parent's
	seq     int64 // insertion order, for lists Stripe returns by position
	parent  string
	deleted bool
	data    map[string]any
}

// recordKey is unique per account. It includes the object type because a
// plan and the recurring price it mirrors share an id, as they do in Stripe.
func recordKey(object, id string) string { return object + " " + id }

// listKey names the collection of one object type, optionally under a parent
// (the lines of one invoice, the payment methods of one customer).
func listKey(object, parent string) string {
	if parent == "" {
		return object
	}
	return object + "|" + parent
}

// collection keeps records in list order. Seeding appends in any order and the
// first read sorts, so that loading 10^5 objects stays O(n log n).
type collection struct {
	positional bool // insertion order (invoice lines), instead of newest first
	recs       []*record
	dirty      bool
}

// before reports whether a is listed before b: newest first with ties broken
// by id (descending), or by position for child lists.
func (c *collection) before(a, b *record) bool {
	if c.positional {
		return a.seq < b.seq
	}
	if a.created != b.created {
		return a.created > b.created
	}
	return a.id > b.id
}

func (c *collection) add(r *record) {
	if n := len(c.recs); n > 0 && !c.before(c.recs[n-1], r) {
		c.dirty = true
	}
	c.recs = append(c.recs, r)
}

func (c *collection) all() []*record {
	if c == nil {
		return nil
	}
	if c.dirty {
		slices.SortFunc(c.recs, func(a, b *record) int {
			switch {
			case c.before(a, b):
				return -1
			case c.before(b, a):
				return 1
			}
			return 0
		})
		c.dirty = false
	}
	return c.recs
}

// search returns the index of the first record not listed before r. It works
// for records that left the collection too, so a cursor on a deleted object
// still pages from where that object was.
func (c *collection) search(r *record) int {
	recs := c.all()
	return sort.Search(len(recs), func(i int) bool { return !c.before(recs[i], r) })
}

func (c *collection) remove(r *record) {
	if i := c.search(r); i < len(c.recs) && c.recs[i] == r {
		c.recs = slices.Delete(c.recs, i, i+1)
	}
}

// account is the state behind one Stripe account: the platform, or a
// connected account reached with the Stripe-Account header.
type account struct {
	id        string
	token     string // the last 10 characters of id, which Stripe embeds in object ids
	connected bool
	self      *record // the account object, for GET /v1/account
	// peers are the accounts by id (Server.accounts), set on the platform
	// only: rendering a connected account object embeds its external
	// accounts, which live in that account's own store.
	peers   map[string]*account
	seq     int64
	records map[string]*record // by recordKey, deleted ones included
	lists   map[string]*collection
}

func newAccount(id string, connected bool) *account {
	return &account{
		id:        id,
		token:     id[max(0, len(id)-10):],
		connected: connected,
		records:   make(map[string]*record),
		lists:     make(map[string]*collection),
	}
}

// get returns the record, or nil. Deleted records are returned with deleted set.
func (a *account) get(object, id string) *record { return a.records[recordKey(object, id)] }

func (a *account) list(object, parent string) *collection { return a.lists[listKey(object, parent)] }

// topLevel objects are listed at their own endpoint: events, and the
// catalog's resources with an account-wide listing. The others are listed
// only under a parent (GET /v1/invoices/{id}/lines,
// /v1/customers/{id}/payment_methods).
func topLevel(object string) bool {
	res, ok := catalog.Lookup(object)
	return !ok || res.List != nil && res.List.Per == ""
}

// positional lists keep the order the items were added, as Stripe returns
// the items of a nested list held by their parent (catalog Parent): invoice
// lines, subscription items.
func positional(object string) bool {
	res, ok := catalog.Lookup(object)
	return ok && res.Parent != ""
}

func (a *account) insert(r *record) {
	a.seq++
	r.seq = a.seq
	a.records[recordKey(r.object, r.id)] = r
	if topLevel(r.object) {
		a.collection(listKey(r.object, "")).add(r)
	}
	if r.parent != "" {
		a.collection(listKey(r.object, r.parent)).add(r)
	}
	if g := group(r); g != "" {
		a.collection(listKey(g, r.parent)).add(r)
	}
}

func (a *account) collection(key string) *collection {
	c, ok := a.lists[key]
	if !ok {
		object, _, _ := strings.Cut(key, "|")
		c = &collection{positional: positional(object)}
		a.lists[key] = c
	}
	return c
}

// remove takes r out of every list and keeps it as a tombstone: a deleted
// customer still answers GET with {"deleted": true}, and cursors on it work.
func (a *account) remove(r *record) {
	r.deleted = true
	if topLevel(r.object) {
		a.list(r.object, "").remove(r)
	}
	if r.parent != "" {
		a.list(r.object, r.parent).remove(r)
	}
	if g := group(r); g != "" {
		a.list(g, r.parent).remove(r)
	}
}
