package syncer

import (
	"github.com/nats-io/nats.go"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
)

// accountWide are the resources listed account-wide, object → relation,
// but for the connected accounts themselves, which requireComplete checks
// on their own.
func accountWide() map[string]string {
	out := map[string]string{}
	for _, r := range catalog.All() {
		if r.List != nil && r.List.Per == "" && r.Object != "account" {
			out[r.Object] = r.Relation()
		}
	}
	return out
}

// objectNames are the object names of every resource.
func objectNames() []string {
	var out []string
	for _, r := range catalog.All() {
		out = append(out, r.Object)
	}
	return out
}

// relations are the relations of every resource.
func relations() []string {
	var out []string
	for _, r := range catalog.All() {
		out = append(out, r.Relation())
	}
	return out
}

// streamedObjects are the objects a message on the stream brings to the
// mirror, by object name: the object itself and what the processor stores
// from it, the items of its nested lists and its embedded objects.
func streamedObjects(subject string, h nats.Header, data []byte) ([]string, error) {
	o, err := events.ParseObjectMsg(subject, h, data)
	if err != nil {
		return nil, err
	}
	out := []string{o.Resource.Object}
	lists, embedded, err := o.Resource.Contents(o.Data)
	if err != nil {
		return nil, err
	}
	for _, l := range lists {
		for _, it := range l.Items {
			out = append(out, it.Resource.Object)
		}
	}
	for _, e := range embedded {
		out = append(out, e.Resource.Object)
	}
	return out, nil
}
