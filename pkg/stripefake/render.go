package stripefake

import (
	"fmt"
	"maps"
	"strings"
)

// nestedList is a list Stripe renders inside its parent object: the first 10
// items, has_more, total_count, and the url that pages through the rest.
type nestedList struct {
	field      string // the parent's field: "lines"
	child      string // the items' object type: "line_item"
	url        string // fmt pattern taking the parent id
	expandOnly bool   // rendered only when expanded (charge.refunds since 2022-11-15)
}

var nestedLists = map[string][]nestedList{
	"invoice":          {{field: "lines", child: "line_item", url: "/v1/invoices/%s/lines"}},
	"subscription":     {{field: "items", child: "subscription_item", url: "/v1/subscription_items?subscription=%s"}},
	"credit_note":      {{field: "lines", child: "credit_note_line_item", url: "/v1/credit_notes/%s/lines"}},
	"charge":           {{field: "refunds", child: "refund", url: "/v1/charges/%s/refunds", expandOnly: true}},
	"checkout.session": {{field: "line_items", child: "item", url: "/v1/checkout/sessions/%s/line_items", expandOnly: true}},
	// Since 2020-08-27 a customer shows its sources only when expanded.
	"customer": {{field: "sources", child: paymentSource, url: "/v1/customers/%s/sources", expandOnly: true}},
	// Stripe embeds external accounts in the accounts a platform controls.
	"account": {{field: "external_accounts", child: externalAccount, url: "/v1/accounts/%s/external_accounts"}},
}

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
		"url":         fmt.Sprintf(n.url, r.id),
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
