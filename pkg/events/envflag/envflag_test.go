package envflag_test

import (
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events/envflag"
)

func TestParse(t *testing.T) {
	t.Parallel()
	newFlags := func() (*flag.FlagSet, *string, *time.Duration) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		url := fs.String("nats-url", "default", "server (env NATS_URL)")
		wait := fs.Duration("ack-wait", time.Second, "wait (env ACK_WAIT)")
		fs.String("since", "", "a command's own option, from args only")
		return fs, url, wait
	}
	env := map[string]string{"NATS_URL": "from-env", "ACK_WAIT": "5s", "SINCE": "not a duration"}

	fs, url, wait := newFlags()
	require.NoError(t, envflag.Parse(fs, nil, func(k string) string { return env[k] }))
	require.Equal(t, "from-env", *url)
	require.Equal(t, 5*time.Second, *wait)

	fs, url, _ = newFlags()
	require.NoError(t, envflag.Parse(fs, []string{"-nats-url", "from-flag"}, func(k string) string { return env[k] }))
	require.Equal(t, "from-flag", *url, "a flag overrides the environment")

	fs, _, _ = newFlags()
	err := envflag.Parse(fs, nil, func(k string) string { return map[string]string{"ACK_WAIT": "soon"}[k] })
	require.ErrorContains(t, err, "ACK_WAIT")

	fs, _, _ = newFlags()
	err = envflag.Parse(fs, []string{"-ack-wait", "whsec_secret_value"}, func(string) string { return "" })
	require.ErrorContains(t, err, "-ack-wait")
	require.NotContains(t, err.Error(), "whsec_secret_value", "the rejected value is not echoed")

	fs, _, _ = newFlags()
	require.ErrorContains(t, envflag.Parse(fs, []string{"stray"}, func(string) string { return "" }), "unexpected arguments")
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := envflag.Secret("sk_live_123")
	require.Equal(t, "REDACTED", s.String())
	require.Equal(t, "REDACTED", s.LogValue().String())
	require.Equal(t, "sk_live_123", string(s))
}
