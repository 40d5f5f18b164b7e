package stripefake

import (
	"maps"
	"slices"
	"strings"

	"github.com/stripesync/stripesync/pkg/catalog"
)

// nestedList is a list Stripe renders inside its parent object: the first 10
// items, has_more, total_count, and the url that pages through the rest.
type nestedList struct {
	field      string // the parent's field: "lines"
	child      string // the collection of its items: "line_item", or a mixed list
	path       string // the url, with {id} for the parent id
	expandOnly bool   // rendered only when expanded
}

// onlyWhenExpanded are the fields of the catalog's nested lists that Stripe
// renders only when expanded, by object.
var onlyWhenExpanded = map[string][]string{"checkout.session": {"line_items"}}

// nestedLists are the lists each object type renders: the catalog's nested
// lists, and two the catalog lists on their own, which appear only when
// expanded.
var nestedLists = func() map[string][]nestedList {
	m := map[string][]nestedList{
		// Since 2022-11-15 a charge shows its refunds only when expanded.
		"charge": {{field: "refunds", child: "refund", path: "/v1/charges/{id}/refunds", expandOnly: true}},
		// Since 2020-08-27 a customer shows its sources only when expanded.
		"customer": {{field: "sources", child: paymentSource, path: catalog.MustLookup("source").List.Path, expandOnly: true}},
	}
	for _, res := range catalog.All() {
		for _, n := range res.Nested {
			m[res.Object] = append(m[res.Object], nestedList{field: n.Field, child: collectionOf(n.Items), path: n.Path,
				expandOnly: slices.Contains(onlyWhenExpanded[res.Object], n.Field)})
		}
	}
	return m
}()

// nestedPageSize is how many items Stripe puts in a nested list.
const nestedPageSize = 10

// render returns r as the API shows it: a shallow copy of its fields plus
// nested lists and the expansions asked for (one level: "customer",
// "refunds"). Callers must hold s.mu until the result is encoded.
func (a *account) render(r *record, expand []string) (map[string]any, error) {
	if r.deleted {
		return map[string]any{"id": r.id, "object": r.object, "deleted": true}, nil
	}
	out := make(map[string]any, len(r.data)+2)
	maps.Copy(out, r.data)
	for _, n := range nestedLists[r.object] {
		if n.expandOnly {
			continue
		}
		out[n.field] = a.nested(r, n)
	}
	for _, path := range expand {
		if err := a.expand(out, r, path); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (a *account) nested(r *record, n nestedList) map[string]any {
	owner := a
	if n.child == externalAccount && r.id != a.id {
		owner = a.peers[r.id] // the platform rendering a connected account
	}
	var items []*record
	if owner != nil {
		items = owner.list(n.child, r.id).all()
	}
	data := make([]any, 0, min(len(items), nestedPageSize))
	for _, c := range items[:min(len(items), nestedPageSize)] {
		m, _ := owner.render(c, nil) // children have no expansions to fail
		data = append(data, m)
	}
	return map[string]any{
		"object":      "list",
		"data":        data,
		"has_more":    len(items) > nestedPageSize,
		"total_count": int64(len(items)),
		"url":         strings.Replace(n.path, "{id}", r.id, 1),
	}
}

func (a *account) expand(out map[string]any, r *record, path string) error {
	bad := invalid("expand", "This property cannot be expanded (%s).", path)
	if strings.Contains(path, ".") {
		return bad // deeper expansions are not modelled
	}
	for _, n := range nestedLists[r.object] {
		if n.field == path {
			out[path] = a.nested(r, n)
			return nil
		}
	}
	v, ok := out[path]
	if !ok {
		return bad
	}
	id, isID := v.(string)
	if !isID {
		if v == nil {
			return nil // null stays null, as in Stripe
		}
		return bad
	}
	object := objectForPrefix[idPrefix(id)]
	var target *record
	switch {
	case object == "account" && !a.connected:
		target = a.get("account", id)
	case object != "":
		target = a.get(object, id)
	}
	if target == nil {
		return bad
	}
	m, err := a.render(target, nil)
	if err != nil {
		return err
	}
	out[path] = m
	return nil
}
