package envflag_test

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events/envflag"
)

func TestEnvName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "NATS_STREAM_MAX_AGE", envflag.EnvName("nats-stream-max-age"))
}

func TestBinder(t *testing.T) {
	t.Parallel()

	type values struct {
		str    string
		num    int
		big    int64
		rate   float64
		on     bool
		wait   time.Duration
		level  slog.Level
		list   []string
		secret envflag.Secret
		since  string // command-line only
	}
	type testBundle struct {
		binder *envflag.Binder
		v      *values
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		v := &values{}
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		b := envflag.New(fs)
		b.StringVar(&v.str, "nats-url", "default", "server")
		b.IntVar(&v.num, "workers", 2, "workers")
		b.Int64Var(&v.big, "max-bytes", -1, "bytes")
		b.Float64Var(&v.rate, "rate-limit", 0, "rate")
		b.BoolVar(&v.on, "enabled", false, "on")
		b.DurationVar(&v.wait, "ack-wait", time.Second, "wait")
		b.TextVar(&v.level, "log-level", slog.LevelInfo, "level")
		b.Func("hosts", "hosts, comma separated", func(s string) error {
			v.list = strings.Split(s, ",")
			return nil
		})
		b.SecretVar(&v.secret, "api-key", "key")
		fs.StringVar(&v.since, "since", "", "a command's own option")
		return &testBundle{binder: b, v: v}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	t.Run("EveryKindReadsItsVariable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.binder.Parse(nil, env(map[string]string{
			"NATS_URL": "from-env", "WORKERS": "7", "MAX_BYTES": "1073741824", "RATE_LIMIT": "2.5",
			"ENABLED": "true", "ACK_WAIT": "5s", "LOG_LEVEL": "debug", "HOSTS": "a,b", "API_KEY": "sk_test_1",
		})))
		require.Equal(t, values{
			str: "from-env", num: 7, big: 1 << 30, rate: 2.5, on: true, wait: 5 * time.Second,
			level: slog.LevelDebug, list: []string{"a", "b"}, secret: "sk_test_1",
		}, *b.v)
	})

	t.Run("DefaultsWithoutVariables", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.binder.Parse(nil, env(nil)))
		require.Equal(t, values{str: "default", num: 2, big: -1, wait: time.Second, level: slog.LevelInfo}, *b.v)
	})

	t.Run("FlagWinsOverVariable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// ACK_WAIT would not parse, but its flag is given: the variable is not read.
		require.NoError(t, b.binder.Parse([]string{"-nats-url", "from-flag", "-ack-wait=3s"},
			env(map[string]string{"NATS_URL": "from-env", "ACK_WAIT": "soon"})))
		require.Equal(t, "from-flag", b.v.str)
		require.Equal(t, 3*time.Second, b.v.wait)
	})

	t.Run("PlainFlagsIgnoreTheEnvironment", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.binder.Parse(nil, env(map[string]string{"SINCE": "72h"})))
		require.Empty(t, b.v.since)

		b = setup(t)
		require.NoError(t, b.binder.Parse([]string{"-since", "72h"}, env(nil)))
		require.Equal(t, "72h", b.v.since)
	})

	t.Run("EveryBadVariableIsNamed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := b.binder.Parse(nil, env(map[string]string{
			"WORKERS": "many", "ACK_WAIT": "soon", "LOG_LEVEL": "whsec_level_secret", "ENABLED": "yes please",
		}))
		require.Error(t, err)
		for _, name := range []string{"WORKERS", "ACK_WAIT", "LOG_LEVEL", "ENABLED"} {
			require.ErrorContains(t, err, name)
		}
		// slog.Level quotes the text it rejects; the error must not.
		require.NotContains(t, err.Error(), "whsec_level_secret")
		require.NotContains(t, err.Error(), "soon")
	})

	t.Run("BadFlagIsNamedNotEchoed", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"-ack-wait", "whsec_secret_value"},
			{"-log-level=whsec_secret_value"},
			{"-enabled=whsec_secret_value"},
		} {
			b := setup(t)
			err := b.binder.Parse(args, env(nil))
			name := strings.SplitN(strings.TrimPrefix(args[0], "-"), "=", 2)[0]
			require.ErrorContains(t, err, "-"+name)
			require.NotContains(t, err.Error(), "whsec_secret_value", "the rejected value is not echoed")
		}
	})

	t.Run("StrayArgumentsAreNotEchoed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := b.binder.Parse([]string{"-enabled", "sk_live_stray"}, env(nil))
		require.ErrorContains(t, err, "unexpected arguments")
		require.NotContains(t, err.Error(), "sk_live_stray")
	})

	t.Run("UsageNamesTheVariables", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var out bytes.Buffer
		fs := b.binder.FlagSet()
		fs.SetOutput(&out)
		require.NoError(t, b.binder.Parse(nil, env(map[string]string{"API_KEY": "sk_live_shown"})))
		fs.SetOutput(&out)
		fs.PrintDefaults()
		usage := out.String()
		require.Contains(t, usage, "server (env NATS_URL)")
		require.Contains(t, usage, "key (env API_KEY)")
		require.Contains(t, usage, "a command's own option\n", "a plain flag names no variable")
		require.NotContains(t, usage, "sk_live_shown")
	})

	t.Run("HelpPrintsTheDescriptionThenTheFlags", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.binder.Describe("test does a thing.\n\nusage: test [flags]")
		var out bytes.Buffer
		b.binder.FlagSet().SetOutput(&out)
		for _, arg := range []string{"-h", "--help"} {
			out.Reset()
			require.ErrorIs(t, b.binder.Parse([]string{arg}, env(nil)), flag.ErrHelp)
			require.True(t, strings.HasPrefix(out.String(), "test does a thing.\n\nusage: test [flags]\n\nflags:\n"), out.String())
			require.Contains(t, out.String(), "server (env NATS_URL)")
		}
	})
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := envflag.Secret("sk_live_123")
	require.Equal(t, "REDACTED", s.String())
	require.Equal(t, "REDACTED", s.LogValue().String())
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", s)
	require.NotContains(t, buf.String(), "sk_live_123")
	for _, verb := range []string{"%v", "%s", "%#v", "%+v"} {
		require.NotContains(t, fmt.Sprintf(verb, s), "sk_live_123", verb)
	}
	require.Equal(t, "sk_live_123", string(s))
}
