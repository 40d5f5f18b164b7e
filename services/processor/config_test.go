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
				"NATS_URL":       "nats://app:s3cret@127.0.0.1:34222",
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

func TestConfigEventsRetention(t *testing.T) {
	t.Parallel()
	parse := func(months string) (config, error) {
		return parseConfig(nil, func(k string) string {
			return map[string]string{"DATABASE_URL": "postgres://127.0.0.1/stripe", "PROCESSOR_EVENTS_RETENTION_MONTHS": months}[k]
		})
	}
	cfg, err := parse("13")
	require.NoError(t, err)
	require.Equal(t, 13, cfg.EventsRetentionMonths)
	cfg, err = parse("")
	require.NoError(t, err)
	require.Zero(t, cfg.EventsRetentionMonths, "every month kept unless told")
	_, err = parse("1")
	require.ErrorContains(t, err, "PROCESSOR_EVENTS_RETENTION_MONTHS must be 0 (keep every month) or at least 2")
}
