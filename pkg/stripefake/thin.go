package stripefake

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stripesync/stripesync/pkg/catalog"
)

// Thin events (https://docs.stripe.com/api/v2/core/events/object): every
// event a mutation or Seed records has a thin twin, the notification Stripe
// sends an event destination for the same change. It names the object
// (related_object) instead of carrying it, and snapshot_event names its
// snapshot twin. GET /v2/core/events lists them and GET
// /v2/core/events/{id} retrieves one; Options.ThinEvents makes WebhookURL
// receive them instead of snapshot events.

// ThinEventObject is a thin event's object name, the type IDs takes to list
// the thin events of an account.
const ThinEventObject = "v2.core.event"

// Paging limits of GET /v2/core/events. These are the fake's choice: the
// reference documents a page size (limit) without stating its bounds.
const (
	v2DefaultLimit = 20
	v2MaxLimit     = 100
)

// ThinEventID is the id of the thin twin of the snapshot event snapshotID.
// Real thin event ids are unrelated to their snapshot event's; the fake
// derives one from the other so that seeding stays reproducible.
func ThinEventID(snapshotID string) string {
	return "evt_test_65" + strings.TrimPrefix(snapshotID, "evt_")
}

// thinEvent returns the thin twin of snapshot, an event about r of type typ
// ("customer.updated", sent thin as "v1.customer.updated").
func (a *account) thinEvent(snapshot, r *record, typ string, created int64) *record {
	related := map[string]any{"id": r.id, "type": r.object, "url": nil}
	if p, ok := a.retrievePath(r); ok {
		related["url"] = p
	}
	ev := map[string]any{
		"id":             ThinEventID(snapshot.id),
		"object":         ThinEventObject,
		"created":        rfc3339Millis(created),
		"livemode":       false,
		"reason":         nil,
		"related_object": related,
		"snapshot_event": snapshot.id,
		"type":           "v1." + typ,
	}
	if a.connected {
		ev["context"] = a.id
	}
	return &record{object: ThinEventObject, id: ev["id"].(string), created: created, data: ev}
}

// retrievePath is the path that retrieves r, as a thin event's
// related_object.url gives it: the catalog's, or for the objects Stripe
// retrieves under their parent, the path under it that the fake serves.
func (a *account) retrievePath(r *record) (string, bool) {
	if res, ok := catalog.Lookup(r.object); ok {
		if p, ok := res.RetrievePath(r.id); ok {
			return p, true
		}
	}
	switch {
	case r.parent == "":
	case r.object == "tax_id":
		return "/v1/customers/" + r.parent + "/tax_ids/" + r.id, true
	case group(r) == paymentSource:
		return "/v1/customers/" + r.parent + "/sources/" + r.id, true
	case group(r) == externalAccount:
		return "/v1/accounts/" + r.parent + "/external_accounts/" + r.id, true
	}
	return "", false
}

func rfc3339Millis(unix int64) string {
	return time.Unix(unix, 0).UTC().Format("2006-01-02T15:04:05.000Z")
}

// v2Scope is the account a /v2 request reads: the Stripe-Context header
// names it (https://docs.stripe.com/context). The fake refuses
// Stripe-Account there, to hold clients to the header v2 APIs document.
// The caller holds s.mu.
func (s *Server) v2Scope(r *http.Request) (*account, error) {
	if r.Header.Get("Stripe-Account") != "" {
		return nil, invalid("Stripe-Account", "The Stripe-Account header is not accepted by /v2 endpoints: name the account in the Stripe-Context header.")
	}
	id := r.Header.Get("Stripe-Context")
	if id == "" {
		return s.platform, nil
	}
	a, ok := s.accounts[id]
	if !ok {
		return nil, &Error{Status: http.StatusForbidden, Type: "invalid_request_error", Code: "account_invalid",
			Message: "The provided key does not have access to the account in Stripe-Context '" + id + "' (or that account does not exist)."}
	}
	return a, nil
}

// v2Query is what GET /v2/core/events selects, all of which its page token
// carries, so that next_page_url and previous_page_url need no other
// parameter.
type v2Query struct {
	Limit    int              `json:"limit"`
	Created  map[string]int64 `json:"created,omitempty"` // gt, gte, lt, lte → Unix milliseconds
	Types    []string         `json:"types,omitempty"`
	ObjectID string           `json:"object_id,omitempty"`
	// After and Before are the cursors of a page: the list items after
	// (older than) or before (newer than) the one named.
	After  *v2Cursor `json:"after,omitempty"`
	Before *v2Cursor `json:"before,omitempty"`
}

type v2Cursor struct {
	Created int64  `json:"created"`
	ID      string `json:"id"`
}

func (q v2Query) token() string {
	b, err := json.Marshal(q)
	if err != nil {
		panic(err) // plain data
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (q v2Query) url() string { return "/v2/core/events?page=" + q.token() }

// parseV2Query reads the filters of GET /v2/core/events
// (https://docs.stripe.com/api/v2/core/events/list): limit, created[gt],
// created[gte], created[lt] and created[lte] as RFC 3339 times, types (up
// to 20, repeated, types[] or types[0]…) and object_id; or page, a token
// from next_page_url or previous_page_url, with limit at most.
func parseV2Query(r *http.Request) (v2Query, error) {
	q := query(r)
	vq := v2Query{Limit: v2DefaultLimit}
	if page := q.Get("page"); page != "" {
		if err := checkParams(q, []string{"page", "limit"}); err != nil {
			return vq, err
		}
		b, err := base64.RawURLEncoding.DecodeString(page)
		if err == nil {
			err = json.Unmarshal(b, &vq)
		}
		if err != nil {
			return vq, invalid("page", "Invalid page token.")
		}
	} else {
		allowed := []string{"limit", "types", "types[]", "object_id", "created[gt]", "created[gte]", "created[lt]", "created[lte]"}
		if err := checkParams(q, allowed); err != nil {
			return vq, err
		}
		for _, op := range []string{"gt", "gte", "lt", "lte"} {
			key := "created[" + op + "]"
			v := q.Get(key)
			if v == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return vq, invalid(key, "Invalid timestamp: %s. Use an RFC 3339 time such as 2026-10-01T12:00:00.000Z.", v)
			}
			if vq.Created == nil {
				vq.Created = map[string]int64{}
			}
			vq.Created[op] = t.UnixMilli()
		}
		vq.Types = append(q["types"], q["types[]"]...)
		if len(vq.Types) > 20 {
			return vq, invalid("types", "You may pass at most 20 types.")
		}
		if slices.Contains(vq.Types, "") {
			return vq, invalid("types", "Event types cannot be empty.")
		}
		vq.ObjectID = q.Get("object_id")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return vq, invalid("limit", "Invalid integer: %s", v)
		case n < 1 || n > v2MaxLimit:
			return vq, invalid("limit", "limit must be between 1 and %d.", v2MaxLimit)
		}
		vq.Limit = n
	}
	return vq, nil
}

// match reports whether thin event r is selected by q and inside the
// 30-day horizon.
func (q v2Query) match(r *record, horizon int64) bool {
	if r.created < horizon {
		return false
	}
	ms := r.created * 1000
	for op, b := range q.Created {
		ok := true
		switch op {
		case "gt":
			ok = ms > b
		case "gte":
			ok = ms >= b
		case "lt":
			ok = ms < b
		case "lte":
			ok = ms <= b
		}
		if !ok {
			return false
		}
	}
	if len(q.Types) > 0 && !slices.Contains(q.Types, r.data["type"].(string)) {
		return false
	}
	if q.ObjectID != "" {
		related, _ := r.data["related_object"].(map[string]any)
		if related["id"] != q.ObjectID {
			return false
		}
	}
	return true
}

// listThinEvents answers GET /v2/core/events: the thin events of the last
// 30 days, newest first, a page of q.Limit with next_page_url toward older
// events and previous_page_url toward newer ones, each null at its end.
func (s *Server) listThinEvents(_ *account, r *http.Request) (any, error) {
	a, err := s.v2Scope(r)
	if err != nil {
		return nil, err
	}
	q, err := parseV2Query(r)
	if err != nil {
		return nil, err
	}
	c := a.list(ThinEventObject, "")
	recs := c.all()
	horizon := s.now().Add(-EventRetention).Unix()
	match := func(i int) bool { return q.match(recs[i], horizon) }

	var got []int // indexes into recs, in list order
	switch {
	case q.Before != nil:
		for i := c.search(&record{created: q.Before.Created, id: q.Before.ID}) - 1; i >= 0 && len(got) < q.Limit; i-- {
			if match(i) {
				got = append(got, i)
			}
		}
		slices.Reverse(got)
	default:
		start := 0
		if q.After != nil {
			cur := &record{created: q.After.Created, id: q.After.ID}
			start = c.search(cur)
			if start < len(recs) && recs[start].id == cur.id {
				start++
			}
		}
		for i := start; i < len(recs) && len(got) < q.Limit; i++ {
			if match(i) {
				got = append(got, i)
			}
		}
	}

	page := map[string]any{"data": []any{}, "next_page_url": nil, "previous_page_url": nil}
	if len(got) == 0 {
		return page, nil
	}
	data := make([]any, len(got))
	for i, j := range got {
		data[i] = recs[j].data
	}
	page["data"] = data
	first, last := recs[got[0]], recs[got[len(got)-1]]
	if slices.ContainsFunc(recs[got[len(got)-1]+1:], func(r *record) bool { return q.match(r, horizon) }) {
		next := q
		next.After, next.Before = &v2Cursor{Created: last.created, ID: last.id}, nil
		page["next_page_url"] = next.url()
	}
	if slices.ContainsFunc(recs[:got[0]], func(r *record) bool { return q.match(r, horizon) }) {
		prev := q
		prev.After, prev.Before = nil, &v2Cursor{Created: first.created, ID: first.id}
		page["previous_page_url"] = prev.url()
	}
	return page, nil
}

// retrieveThinEvent answers GET /v2/core/events/{id}, for 30 days.
func (s *Server) retrieveThinEvent(_ *account, r *http.Request) (any, error) {
	a, err := s.v2Scope(r)
	if err != nil {
		return nil, err
	}
	if err := checkParams(query(r), nil); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	rec := a.get(ThinEventObject, id)
	if rec == nil || rec.created < s.now().Add(-EventRetention).Unix() {
		return nil, missing("event", id, "id")
	}
	return rec.data, nil
}
