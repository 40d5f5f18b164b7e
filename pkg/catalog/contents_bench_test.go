package catalog

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	gojson "github.com/goccy/go-json"
)

// BenchmarkContents reads a subscription of about 3 kB (60 other fields, two
// items, a discount) as the processor reads every state it writes. "map" is
// the reading it replaced: every field decoded into a map.
func BenchmarkContents(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"id":"sub_1","object":"subscription",`)
	for i := range 60 {
		fmt.Fprintf(&sb, `"field_%d":{"nested":"value %d","n":%d,"list":[1,2,3]},`, i, i, i)
	}
	sb.WriteString(`"discount":{"id":"di_1","object":"discount","coupon":{"id":"c"}},`)
	sb.WriteString(`"items":{"object":"list","has_more":false,"data":[{"id":"si_1","object":"subscription_item","price":{"id":"p"}},{"id":"si_2","object":"subscription_item"}]}}`)
	data := []byte(sb.String())
	sub := MustLookup("subscription")
	b.Run("Contents", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, _, err := sub.Contents(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var fields map[string]json.RawMessage
			if err := gojson.Unmarshal(data, &fields); err != nil {
				b.Fatal(err)
			}
		}
	})
}
