package catalog

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"

	// The same validation as encoding/json at a fraction of its cost: every
	// object the mirror stores passes through here.
	gojson "github.com/goccy/go-json"
)

// Ref is the identity of a Stripe object.
type Ref struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	// Deleted is true on the stubs Stripe renders for deleted objects.
	Deleted bool `json:"deleted"`
}

// ParseRef reads the identity fields of a Stripe object.
func ParseRef(object []byte) (Ref, error) {
	var ref Ref
	if err := gojson.Unmarshal(object, &ref); err != nil {
		return Ref{}, fmt.Errorf("decode object: %w", err)
	}
	return ref, nil
}

// Item is an object found inside another.
type Item struct {
	Resource *Resource
	Ref      Ref
	// Data is the object, verbatim.
	Data json.RawMessage
}

// Items are the items of one nested list as an object holds it.
type Items struct {
	List NestedList
	// Present is false when the object does not hold the list (the field is
	// absent, or not expanded): all of it must be paged from List.Path.
	Present bool
	// Items are the items the object holds, in Stripe's order; items of
	// objects the catalog does not mirror are left out.
	Items []Item
	// Complete is true when Items is the whole list (Stripe's has_more is
	// false): an item of the parent that it does not hold is gone.
	Complete bool
	// Last is the id of the last item held, where paging the rest resumes.
	Last string
}

// Contents returns what an object of r holds of other resources: the items
// of its nested lists, one Items per list in r.Nested, and its embedded
// objects. It is the one reading of nested lists, for the processor (which
// stores the items of every state it writes) and the syncer (which pages
// only what the object does not hold).
func (r *Resource) Contents(data []byte) ([]Items, []Item, error) {
	if len(r.Nested) == 0 && len(r.Embedded) == 0 {
		return nil, nil, nil
	}
	fields, err := r.contentFields(data)
	if err != nil {
		return nil, nil, fmt.Errorf("decode %s: %w", r.Object, err)
	}
	lists := make([]Items, 0, len(r.Nested))
	for _, n := range r.Nested {
		l, err := readList(n, fields[n.Field])
		if err != nil {
			return nil, nil, fmt.Errorf("%s.%s: %w", r.Object, n.Field, err)
		}
		lists = append(lists, l)
	}
	var embedded []Item
	for _, e := range r.Embedded {
		raw := fields[e.Field]
		if len(raw) == 0 || raw[0] != '{' {
			continue // absent, null, or an id
		}
		ref, err := ParseRef(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%s.%s: %w", r.Object, e.Field, err)
		}
		if ref.Object != e.Object || ref.ID == "" {
			continue
		}
		embedded = append(embedded, Item{Resource: MustLookup(e.Object), Ref: ref, Data: raw})
	}
	return lists, embedded, nil
}

func readList(n NestedList, raw json.RawMessage) (Items, error) {
	out := Items{List: n}
	if len(raw) == 0 || raw[0] != '{' {
		return out, nil // absent, null, or not expanded
	}
	var list struct {
		Object  string            `json:"object"`
		Data    []json.RawMessage `json:"data"`
		HasMore bool              `json:"has_more"`
	}
	if err := gojson.Unmarshal(raw, &list); err != nil {
		return Items{}, err
	}
	if list.Object != "list" {
		return out, nil
	}
	out.Present, out.Complete = true, !list.HasMore
	for _, d := range list.Data {
		ref, err := ParseRef(d)
		if err != nil {
			return Items{}, err
		}
		if ref.ID == "" {
			continue
		}
		out.Last = ref.ID
		if !slices.Contains(n.Items, ref.Object) {
			continue
		}
		out.Items = append(out.Items, Item{Resource: MustLookup(ref.Object), Ref: ref, Data: d})
	}
	return out, nil
}

// contentTypes holds, by resource, a struct type with one json.RawMessage
// field for each field that Nested and Embedded name: decoding into it
// skips the object's other fields instead of keeping each in a map, which
// was the largest part of the processor's CPU for the objects that hold
// others.
var contentTypes sync.Map // *Resource → reflect.Type

// contentFields returns the raw values of the fields of data that r's
// Nested and Embedded name, by field name; a field data lacks is absent.
func (r *Resource) contentFields(data []byte) (map[string]json.RawMessage, error) {
	t, ok := contentTypes.Load(r)
	if !ok {
		t, _ = contentTypes.LoadOrStore(r, contentType(r))
	}
	typ := t.(reflect.Type)
	v := reflect.New(typ)
	if err := gojson.Unmarshal(data, v.Interface()); err != nil {
		return nil, err
	}
	fields := make(map[string]json.RawMessage, typ.NumField())
	for i := range typ.NumField() {
		if raw := v.Elem().Field(i).Interface().(json.RawMessage); raw != nil {
			fields[typ.Field(i).Tag.Get("json")] = raw
		}
	}
	return fields, nil
}

func contentType(r *Resource) reflect.Type {
	var names []string
	for _, n := range r.Nested {
		names = append(names, n.Field)
	}
	for _, e := range r.Embedded {
		names = append(names, e.Field)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	fields := make([]reflect.StructField, len(names))
	for i, name := range names {
		fields[i] = reflect.StructField{
			Name: fmt.Sprintf("F%d", i),
			Type: reflect.TypeFor[json.RawMessage](),
			Tag:  reflect.StructTag(fmt.Sprintf("json:%q", name)),
		}
	}
	return reflect.StructOf(fields)
}
