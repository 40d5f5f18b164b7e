package processor

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigLogHidesPasswords(t *testing.T) {
	t.Parallel()
	for _, dbURL := range []string{
		"postgres://app:s3cret@127.0.0.1:5432/stripe",
		"host=127.0.0.1 user=app password=s3cret dbname=stripe",
		"host=127.0.0.1 user=app password = 's3cret with spaces' dbname=stripe",
	} {
		cfg, err := parseConfig(nil, func(k string) string {
			return map[string]string{
				"DATABASE_URL":   dbURL,
				"NATS_URL":       "nats://app:s3cret@127.0.0.1:4222",
				"STRIPE_API_KEY": "sk_test_s3cret",
			}[k]
		})
		require.NoError(t, err)
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", cfg)
		require.NotContains(t, buf.String(), "s3cret", dbURL)
		require.Contains(t, buf.String(), "127.0.0.1", "the rest of the address stays readable")
	}
}
