package eventstest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
)

// ThinEvent is a thin Stripe event under construction, as an event
// destination delivers it (https://docs.stripe.com/api/v2/core/events/object).
// Sign its JSON with Sign, as a snapshot event's.
type ThinEvent struct {
	ID      string
	Type    string
	Created time.Time
	// Context is the connected account, "" for the platform.
	Context  string
	Livemode bool
	// RelatedObject is rendered as related_object; nil leaves it out.
	RelatedObject *events.RelatedObject
	// SnapshotEvent is rendered as snapshot_event when set.
	SnapshotEvent string
	// Changes is rendered as changes when set.
	Changes map[string]any
}

// NewThinEvent returns a thin event of type eventType about the object of
// type objectType and id objectID ("customer", "cus_123"), created now.
// related_object.url is the object's retrieve path: the catalog's for an
// API v1 resource, /v2/<namespace>/<name>s/<id> for an API v2 type such as
// v2.core.account. An empty objectType makes an event about no object.
func NewThinEvent(id, eventType, objectType, objectID string) ThinEvent {
	ev := ThinEvent{ID: id, Type: eventType, Created: time.Now()}
	if objectType != "" {
		ev.RelatedObject = &events.RelatedObject{ID: objectID, Type: objectType, URL: RetrievePath(objectType, objectID)}
	}
	return ev
}

// RetrievePath is the path that retrieves the object of type objectType
// and id id, as a thin event's related_object.url gives it.
func RetrievePath(objectType, id string) string {
	if res, ok := catalog.Lookup(objectType); ok {
		if p, ok := res.RetrievePath(id); ok {
			return p
		}
	}
	if rest, ok := strings.CutPrefix(objectType, "v2."); ok {
		return "/v2/" + strings.ReplaceAll(rest, ".", "/") + "s/" + id
	}
	return "/v1/" + strings.ReplaceAll(objectType, ".", "/") + "s/" + id
}

// JSON renders the event as Stripe does: created in RFC 3339 with
// milliseconds, context only for a connected account.
func (e ThinEvent) JSON(t testing.TB) []byte {
	t.Helper()
	ev := map[string]any{
		"id":       e.ID,
		"object":   events.ThinObject,
		"type":     e.Type,
		"created":  e.Created.UTC().Format("2006-01-02T15:04:05.000Z"),
		"livemode": e.Livemode,
		"reason":   map[string]any{"type": "request", "request": map[string]any{"id": "req_" + e.ID, "idempotency_key": nil}},
	}
	if e.Context != "" {
		ev["context"] = e.Context
	}
	if ro := e.RelatedObject; ro != nil {
		ev["related_object"] = map[string]any{"id": ro.ID, "type": ro.Type, "url": ro.URL}
	}
	if e.SnapshotEvent != "" {
		ev["snapshot_event"] = e.SnapshotEvent
	}
	if e.Changes != nil {
		ev["changes"] = e.Changes
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("encode thin event: %v", err)
	}
	return b
}
