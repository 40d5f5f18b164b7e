package stripefake

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMarshalMatchesIndentedJSON checks the hand-written encoder against
// encoding/json plus json.Indent, apart from key order.
func TestMarshalMatchesIndentedJSON(t *testing.T) {
	t.Parallel()
	v := map[string]any{
		"object": "thing", "id": "x_1", "a": []any{}, "b": map[string]any{}, "c": nil, "d": true,
		"e": int64(-3), "f": 1.5, "g": "quote \" back\\ <tag> & é \u2028", "h": []string{"u", "v"},
		"i": map[string]string{"k": "v"}, "j": []any{map[string]any{"z": int64(1), "id": "y"}, "s", int(7)},
		"k": map[string]any{"nested": map[string]any{"deep": []any{[]string{}}}},
	}
	got, err := marshal(v)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(got, []byte("{\n  \"id\": \"x_1\",\n  \"object\": \"thing\",\n  \"a\": []")), string(got))
	require.Contains(t, string(got), "<tag> & é")

	compact, err := json.Marshal(v)
	require.NoError(t, err)
	var want, have any
	require.NoError(t, json.Unmarshal(compact, &want))
	require.NoError(t, json.Unmarshal(got, &have))
	require.Equal(t, want, have)

	var reindented bytes.Buffer
	require.NoError(t, json.Indent(&reindented, got, "", "  "))
	require.Equal(t, reindented.String(), string(got), "already indented as json.Indent would")
}
