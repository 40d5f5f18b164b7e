package events_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events"
)

// The fuzz targets below hold ParseEnvelope to its contract from two sides.
// A reference reading of the same body with encoding/json (the decoder
// PostgreSQL's jsonb agrees with on what a key holds) and the contract
// written out again must accept exactly what ParseEnvelope accepts, and
// read the same fields; and an accepted envelope, encoded again as the
// event it describes, parses to the same envelope. Their corpora, in
// testdata/fuzz, hold events of several types as Stripe and the fake send
// them, and hostile ones (deep nesting, duplicate keys, escapes, numbers
// out of range, odd times).

// referenceEvent is the event as encoding/json reads it.
type referenceEvent struct {
	ID         string          `json:"id"`
	Object     string          `json:"object"`
	Type       string          `json:"type"`
	Created    json.RawMessage `json:"created"`
	Account    string          `json:"account"`
	Livemode   bool            `json:"livemode"`
	APIVersion *string         `json:"api_version"`
	Data       struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
	Context       string `json:"context"`
	SnapshotEvent string `json:"snapshot_event"`
	RelatedObject *struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"related_object"`
}

// stripeEventType is what ParseEnvelope documents of a type: dot-separated
// words of lower-case letters, digits and underscores.
var stripeEventType = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)

// reference decodes body with encoding/json and applies the envelope's
// contract; ok is false for a body the contract refuses.
func reference(body []byte) (ref referenceEvent, env events.Envelope, ok bool) {
	if json.Unmarshal(body, &ref) != nil || ref.ID == "" || !stripeEventType.MatchString(ref.Type) || holdsNUL(ref) {
		return ref, events.Envelope{}, false
	}
	env = events.Envelope{ID: ref.ID, Type: ref.Type, Livemode: ref.Livemode}
	switch ref.Object {
	case events.SnapshotObject:
		created, err := strconv.ParseInt(string(ref.Created), 10, 64)
		if err != nil || len(ref.Data.Object) == 0 || ref.Data.Object[0] != '{' {
			return ref, events.Envelope{}, false
		}
		env.Created, env.Account, env.Object = time.Unix(created, 0).UTC(), ref.Account, ref.Data.Object
		if ref.APIVersion != nil {
			env.APIVersion = *ref.APIVersion
		}
		return ref, env, true
	case events.ThinObject:
		var s string
		if json.Unmarshal(ref.Created, &s) != nil {
			return ref, events.Envelope{}, false
		}
		created, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return ref, events.Envelope{}, false
		}
		env.Created, env.Account = created.UTC(), ref.Context
		env.Thin = &events.Thin{SnapshotEvent: ref.SnapshotEvent, Context: ref.Context}
		if ro := ref.RelatedObject; ro != nil {
			if ro.ID == "" || ro.Type == "" {
				return ref, events.Envelope{}, false
			}
			env.Thin.RelatedObject = &events.RelatedObject{ID: ro.ID, Type: ro.Type, URL: ro.URL}
		}
		return ref, env, true
	}
	return ref, events.Envelope{}, false
}

// holdsNUL reports whether a text field the envelope keeps holds U+0000,
// which PostgreSQL's text refuses.
func holdsNUL(ref referenceEvent) bool {
	texts := []string{ref.ID, ref.Account, ref.Context, ref.SnapshotEvent}
	if ref.APIVersion != nil {
		texts = append(texts, *ref.APIVersion)
	}
	if ro := ref.RelatedObject; ro != nil {
		texts = append(texts, ro.ID, ro.Type, ro.URL)
	}
	for _, s := range texts {
		if strings.ContainsRune(s, 0) {
			return true
		}
	}
	return false
}

// checkAgainstReference is the property both targets share: ParseEnvelope
// accepts a body exactly when the reference does, with the same fields,
// and refuses the others with ErrNotEvent.
func checkAgainstReference(t *testing.T, body []byte) (events.Envelope, bool) {
	env, err := events.ParseEnvelope(body)
	if err != nil {
		require.ErrorIs(t, err, events.ErrNotEvent)
	}
	if !utf8.Valid(body) {
		// encoding/json replaces invalid UTF-8, which PostgreSQL would
		// refuse anyway: no reference to compare with.
		return env, err == nil
	}
	_, want, ok := reference(body)
	require.Equal(t, ok, err == nil, "reference accepts: %v, ParseEnvelope: %v", ok, err)
	if !ok {
		return env, false
	}
	require.Equal(t, want.ID, env.ID)
	require.Equal(t, want.Type, env.Type)
	require.True(t, want.Created.Equal(env.Created), "created %s, want %s", env.Created, want.Created)
	require.Equal(t, want.Account, env.Account)
	require.Equal(t, want.Livemode, env.Livemode)
	require.Equal(t, want.APIVersion, env.APIVersion)
	require.Equal(t, want.Object, env.Object, "data.object verbatim")
	require.Equal(t, want.Thin, env.Thin)
	return env, true
}

// FuzzParseSnapshotEnvelope fuzzes snapshot events ("object": "event"):
// beyond the reference, an accepted one keeps data.object byte for byte as
// a JSON object of the body, and the envelope encoded again as a snapshot
// event parses to the same envelope.
func FuzzParseSnapshotEnvelope(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","object":"event","api_version":"2026-10-28.endive","created":1764633600,"type":"customer.updated","data":{"object":{"id":"cus_1","object":"customer"},"previous_attributes":{"name":null}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, ok := checkAgainstReference(t, body)
		if !ok || env.Thin != nil {
			return
		}
		require.True(t, json.Valid(env.Object), "data.object is JSON")
		require.True(t, bytes.Contains(body, env.Object), "data.object is the body's bytes")
		require.Equal(t, time.UTC, env.Created.Location())

		again := map[string]any{
			"id": env.ID, "object": events.SnapshotObject, "type": env.Type, "created": env.Created.Unix(),
			"account": env.Account, "livemode": env.Livemode, "data": map[string]any{"object": env.Object},
		}
		if env.APIVersion != "" {
			again["api_version"] = env.APIVersion
		}
		env2 := reparse(t, again)
		require.JSONEq(t, string(env.Object), string(env2.Object))
		env2.Object = env.Object
		require.Equal(t, env, env2)
	})
}

// FuzzParseThinEnvelope fuzzes thin events ("object": "v2.core.event"):
// beyond the reference, an accepted one has no object and no API version,
// its account is its context, and the envelope encoded again as a thin
// event parses to the same envelope.
func FuzzParseThinEnvelope(f *testing.F) {
	f.Add([]byte(`{"id":"evt_test_65R9","object":"v2.core.event","type":"v1.customer.updated","created":"2026-10-01T12:00:00.123Z","context":"acct_1","related_object":{"id":"cus_1","type":"customer","url":"/v1/customers/cus_1"},"snapshot_event":"evt_1"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, ok := checkAgainstReference(t, body)
		if !ok || env.Thin == nil {
			return
		}
		require.Nil(t, env.Object)
		require.Empty(t, env.APIVersion)
		require.Equal(t, env.Thin.Context, env.Account)
		require.Equal(t, time.UTC, env.Created.Location())

		created := env.Created.Format(time.RFC3339Nano)
		if _, err := time.Parse(time.RFC3339Nano, created); err != nil {
			// An offset carried the time out of the years RFC 3339 can
			// write (0000-01-01T00:00:00+01:00): nothing to encode again.
			return
		}
		again := map[string]any{
			"id": env.ID, "object": events.ThinObject, "type": env.Type, "created": created,
			"livemode": env.Livemode, "snapshot_event": env.Thin.SnapshotEvent, "context": env.Thin.Context,
		}
		if ro := env.Thin.RelatedObject; ro != nil {
			again["related_object"] = map[string]any{"id": ro.ID, "type": ro.Type, "url": ro.URL}
		}
		require.Equal(t, env, reparse(t, again))
	})
}

func reparse(t *testing.T, event map[string]any) events.Envelope {
	t.Helper()
	body, err := json.Marshal(event)
	require.NoError(t, err)
	env, err := events.ParseEnvelope(body)
	require.NoError(t, err, "encoded again: %s", body)
	return env
}
