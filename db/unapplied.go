package db

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stripesync/stripesync/db/internal/dbsqlc"
)

// InsertUnappliedEvent stores e, an event whose object could not be
// applied, with the reason, unless an event of its id is stored already.
// e.Data must be valid UTF-8: see StorableJSON.
func InsertUnappliedEvent(ctx context.Context, tx DBTX, e Event, reason string) error {
	err := queries.EventInsertUnapplied(ctx, tx, dbsqlc.EventInsertUnappliedParams{
		ID: e.ID, Type: e.Type, Account: e.Account, Livemode: e.Livemode, ApiVersion: e.APIVersion,
		Created: e.Created, Data: e.Data, ObjectType: e.ObjectType, ObjectID: e.ObjectID, Unapplied: reason,
	})
	if err != nil {
		return fmt.Errorf("insert unapplied event %s: %w", e.ID, err)
	}
	return nil
}

// StorableJSON returns the JSON value raw with what jsonb cannot hold
// replaced by U+FFFD: NUL characters (\u0000) in strings and keys, lone
// UTF-16 surrogates and bytes that are not UTF-8. Everything else keeps its
// value (numbers their digits); key order and spacing may change, as jsonb
// changes them anyway.
func StorableJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	// Decoding already replaced surrogates and bytes that are not UTF-8.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(withoutNUL(v)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

func withoutNUL(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "\x00", "\uFFFD")
	case []any:
		for i, e := range v {
			v[i] = withoutNUL(e)
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[strings.ReplaceAll(k, "\x00", "\uFFFD")] = withoutNUL(e)
		}
		return out
	}
	return v
}
