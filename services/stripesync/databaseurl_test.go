package stripesync_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/services/stripesync"
)

// TestDatabaseURLIsNeverQuoted: a DATABASE_URL that does not parse is
// refused by every command that opens the mirror, without its password.
// pgx's own message quotes what it cannot parse, password included when an
// unterminated quote hides it from its redaction.
func TestDatabaseURLIsNeverQuoted(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-do-not-print"
	env := map[string]string{
		"DATABASE_URL":   "host=127.0.0.1 password = '" + secret + " port=5432",
		"NATS_URL":       "nats://127.0.0.1:1",
		"STRIPE_API_KEY": "sk_test_123",
	}
	for _, args := range [][]string{
		{"rebuild", "-nats-url", "", "customer"},
		{"replay", "-all"},
		{"reconcile"},
		{"verify"},
		{"status"},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := stripesync.Run(t.Context(), args, func(k string) string { return env[k] }, &out)
			require.Error(t, err)
			require.ErrorContains(t, err, "DATABASE_URL parses neither")
			require.NotContains(t, err.Error(), secret)
			require.NotContains(t, out.String(), secret)
		})
	}
}
