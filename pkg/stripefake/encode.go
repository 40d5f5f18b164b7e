package stripefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// marshal renders v the way the Stripe API does: indented by two spaces,
// "id" and "object" first, other keys in alphabetical order, and no HTML
// escaping. Syncers that store objects byte for byte see realistic bytes.
func marshal(v any) ([]byte, error) {
	e := encoder{}
	e.buf.Grow(4096)
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

// encoder writes the maps and slices the fake builds itself, and falls back
// to encoding/json for anything else (values passed to Create or Update).
type encoder struct {
	buf     bytes.Buffer
	scratch bytes.Buffer
	enc     *json.Encoder // into scratch
}

func (e *encoder) newline(depth int) {
	e.buf.WriteByte('\n')
	for range depth {
		e.buf.WriteString("  ")
	}
}

func (e *encoder) value(v any, depth int) error {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			e.buf.WriteString("{}")
			return nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareKeys)
		e.buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			e.newline(depth + 1)
			if err := e.string(k); err != nil {
				return err
			}
			e.buf.WriteString(": ")
			if err := e.value(v[k], depth+1); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		e.newline(depth)
		e.buf.WriteByte('}')
	case []any:
		if len(v) == 0 {
			e.buf.WriteString("[]")
			return nil
		}
		e.buf.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			e.newline(depth + 1)
			if err := e.value(x, depth+1); err != nil {
				return err
			}
		}
		e.newline(depth)
		e.buf.WriteByte(']')
	case nil:
		e.buf.WriteString("null")
	case bool:
		e.buf.Write(strconv.AppendBool(e.buf.AvailableBuffer(), v))
	case int64:
		e.buf.Write(strconv.AppendInt(e.buf.AvailableBuffer(), v, 10))
	case int:
		e.buf.Write(strconv.AppendInt(e.buf.AvailableBuffer(), int64(v), 10))
	case string:
		return e.string(v)
	default:
		return e.fallback(v, depth)
	}
	return nil
}

// string writes plain ASCII strings directly, the common case.
func (e *encoder) string(s string) error {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return e.fallback(s, 0)
		}
	}
	e.buf.WriteByte('"')
	e.buf.WriteString(s)
	e.buf.WriteByte('"')
	return nil
}

func (e *encoder) fallback(v any, depth int) error {
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.scratch)
		e.enc.SetEscapeHTML(false)
	}
	e.scratch.Reset()
	if err := e.enc.Encode(v); err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	out := bytes.TrimSuffix(e.scratch.Bytes(), []byte{'\n'})
	if depth == 0 || (len(out) > 0 && out[0] != '{' && out[0] != '[') {
		e.buf.Write(out)
		return nil
	}
	if err := json.Indent(&e.buf, out, strings.Repeat("  ", depth), "  "); err != nil {
		return fmt.Errorf("indent %T: %w", v, err)
	}
	return nil
}

func compareKeys(a, b string) int {
	rank := func(k string) int {
		switch k {
		case "id":
			return 0
		case "object":
			return 1
		}
		return 2
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

// deepCopy copies the maps and slices the fake builds, so that an event's
// data.object does not change when the object changes later.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}

func copyMap(m map[string]any) map[string]any { return deepCopy(m).(map[string]any) }
