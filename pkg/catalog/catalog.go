// Package catalog is everything stripesync knows about the Stripe resources
// it mirrors, one entry per resource, keyed by Stripe's object name
// ("customer", "checkout.session", "invoiceitem"): the relation that holds
// it, how the API retrieves and lists it, the nested lists Stripe truncates
// inside it, the event types that delete it, and the JSON paths of its typed
// columns.
//
// Every other package reads these facts here: the processor (which objects
// it stores, their nested items, which events delete them, where to re-fetch
// them), the syncer (what to list and how), db (the relation and its typed
// columns, turned into SQL there and only there), the fake Stripe API and the
// benchmark. Packages pass *Resource values between them, never relation
// names.
//
// Adding a resource is an entry in resources.go, a migration creating its
// relation (db/schema) and make generate; db's tests fail while an entry has
// no relation or a relation no entry.
package catalog

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Resource is everything the system knows about one Stripe object.
type Resource struct {
	// Object is the value of the "object" field Stripe puts on every object
	// of this resource, for example "customer" or "checkout.session".
	Object string
	// Retrieve is the path that returns one object, with {id} for its id:
	// "/v1/customers/{id}". Empty when Stripe has no such endpoint for it
	// (discounts; tax ids, cards and bank accounts, which live under their
	// customer or account; the items of nested lists).
	Retrieve string
	// List says how the API lists the resource completely; nil when it is
	// only seen inside other objects (see ListedBy).
	List *Listing
	// Parent is set for the items of a nested list (an invoice's lines): the
	// object whose list holds them. Their relation has a parent column,
	// because not every item names its parent itself, and items a complete
	// list no longer holds are marked deleted.
	Parent string
	// Nested are the fields of this object holding a list of other objects,
	// which Stripe truncates to ten items.
	Nested []NestedList
	// Embedded are the fields holding a whole object of another resource,
	// such as a customer's discount, which has no list of its own.
	Embedded []Embedded
	// Deletes are the event types that say an object of this resource no
	// longer exists. The row is kept, marked deleted. (An object rendered as
	// a deleted stub, "deleted": true, is a deletion whatever the event.)
	Deletes []string
	// Columns are the typed columns of its relation, each computed from
	// data by PostgreSQL.
	Columns []Column

	// relation overrides the derived relation name, for objects whose
	// Stripe name says little outside its parent ("item", "line_item").
	relation string
}

// Relation is the name of the relation in schema stripe that mirrors the
// resource: Stripe's object name in plural snake case ("checkout.session"
// → "checkout_sessions"). Only db turns it into SQL.
func (r *Resource) Relation() string {
	if r.relation != "" {
		return r.relation
	}
	return strings.ReplaceAll(r.Object, ".", "_") + "s"
}

func (r *Resource) String() string { return r.Object }

// RetrievePath is the path that returns the object id, and false when the
// resource cannot be retrieved by id.
func (r *Resource) RetrievePath(id string) (string, bool) {
	if r.Retrieve == "" {
		return "", false
	}
	return strings.Replace(r.Retrieve, "{id}", url.PathEscape(id), 1), true
}

// Reconcilable reports whether the rows of r can be reconciled with
// Stripe: its list returns every object (with its filters), so a row a
// complete listing did not return is worth retrieving, and Stripe
// retrieves it by id.
func (r *Resource) Reconcilable() bool {
	return r.List != nil && r.List.Complete() && r.Retrieve != ""
}

// IsDeletedBy reports whether an event of type eventType says the object no
// longer exists.
func (r *Resource) IsDeletedBy(eventType string) bool {
	return slices.Contains(r.Deletes, eventType)
}

// Listing says how to list a resource so that the list is complete.
type Listing struct {
	// Path is the list endpoint. For a listing per parent (Per) it holds
	// {id} for the parent's id: "/v1/customers/{id}/tax_ids".
	Path string
	// Filters are fixed query parameters. Some lists hide objects unless
	// asked: subscriptions leave out canceled ones without status=all.
	Filters url.Values
	// Created says the list filters by created, so that a large resource is
	// split into ranges listed at once, and a backfill's since applies.
	Created bool
	// PlatformOnly listings are not made for connected accounts.
	PlatformOnly bool
	// Per is set when the resource has no account-wide list: it is listed
	// once for each object of the resource named here (payment methods per
	// customer).
	Per string
	// Yields are the other objects the list returns beside the resource's
	// own (a customer's sources list holds cards and bank accounts too).
	Yields []string
	// Hides says which objects the list leaves out whatever its Filters
	// ask; "" when it returns every object of the resource that exists.
	// Reconciliation takes an object a complete list did not return for
	// one Stripe no longer has, and checks that by retrieving it: a list
	// that hides some would cost a retrieval of each hidden object every
	// time, so it is not reconciled.
	Hides string
}

// Complete reports whether the list, with its Filters, returns every
// object of the resource that exists (see Hides).
func (l *Listing) Complete() bool { return l.Hides == "" }

// PathFor is the listing's path for the parent id (Per listings).
func (l *Listing) PathFor(parentID string) string {
	return strings.Replace(l.Path, "{id}", url.PathEscape(parentID), 1)
}

// NestedList is a field of an object holding a list of other objects, and
// where to page the rest of it when Stripe cut it short.
type NestedList struct {
	// Field holds the list, e.g. "lines".
	Field string
	// Items are the objects the list holds; the first is the usual one.
	Items []string
	// Path lists the items of one parent, with {id} for the parent id; a
	// query string is kept: "/v1/subscription_items?subscription={id}".
	Path string
}

// PagePath is the path and query that list the items of parentID.
func (n NestedList) PagePath(parentID string) (string, url.Values) {
	path, query, _ := strings.Cut(n.Path, "?")
	path = strings.Replace(path, "{id}", url.PathEscape(parentID), 1)
	if query == "" {
		return path, nil
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		panic(fmt.Sprintf("catalog: nested list %s: %v", n.Field, err))
	}
	for k, vs := range q {
		for i, v := range vs {
			vs[i] = strings.Replace(v, "{id}", parentID, 1)
		}
		q[k] = vs
	}
	return path, q
}

// Embedded is a field holding a whole object of another resource.
type Embedded struct {
	Field  string
	Object string
}

var byObject, byRelation = func() (map[string]*Resource, map[string]*Resource) {
	o := make(map[string]*Resource, len(resources))
	r := make(map[string]*Resource, len(resources))
	for _, res := range resources {
		if o[res.Object] != nil || r[res.Relation()] != nil {
			panic("catalog: " + res.Object + " is in the catalog twice")
		}
		o[res.Object] = res
		r[res.Relation()] = res
	}
	return o, r
}()

// All returns every resource, sorted by object name.
func All() []*Resource { return slices.Clone(resources) }

// Lookup returns the resource of Stripe objects named object, and false when
// such objects are not mirrored in a relation of their own (they are still
// kept whole in stripe.events).
func Lookup(object string) (*Resource, bool) {
	r, ok := byObject[object]
	return r, ok
}

// Find returns the resource named name, by its object name ("invoiceitem",
// "checkout.session") or its relation ("invoiceitems", "checkout_sessions"):
// what people type on a command line.
func Find(name string) (*Resource, error) {
	name = strings.TrimSpace(name)
	if r, ok := byObject[name]; ok {
		return r, nil
	}
	if r, ok := byRelation[name]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("unknown resource %q: name it by its Stripe object (customer, checkout.session) or its relation (customers, invoice_line_items)", name)
}

// MustLookup is Lookup for objects the code names itself.
func MustLookup(object string) *Resource {
	r, ok := byObject[object]
	if !ok {
		panic("catalog: no resource " + object)
	}
	return r
}

// ListedBy returns the listed resources whose listings yield objects of r:
// r itself when it has a listing, else the parents whose nested lists or
// embedded fields hold it, and the listings that return it beside their
// own objects.
func (r *Resource) ListedBy() []*Resource {
	if r.List != nil {
		return []*Resource{r}
	}
	var out []*Resource
	for _, p := range resources {
		if p.List == nil {
			continue
		}
		holds := slices.Contains(p.List.Yields, r.Object) ||
			slices.ContainsFunc(p.Nested, func(n NestedList) bool { return slices.Contains(n.Items, r.Object) }) ||
			slices.ContainsFunc(p.Embedded, func(e Embedded) bool { return e.Object == r.Object })
		if holds {
			out = append(out, p)
		}
	}
	return out
}
