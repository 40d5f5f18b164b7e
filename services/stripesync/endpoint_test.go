package stripesync_test

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/services/stripesync"
)

func TestEndpointCreate(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		fake *stripefake.Server
		run  func(args ...string) (string, error)
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		fake := stripefake.New(stripefake.Options{})
		env := map[string]string{"STRIPE_API_KEY": stripefake.TestKey, "STRIPE_API_BASE": fake.Start(t), "STRIPE_API_VERSION": "2026-10-28.endive"}
		return &testBundle{fake: fake, run: func(args ...string) (string, error) {
			var out bytes.Buffer
			err := stripesync.Run(context.WithoutCancel(t.Context()), append([]string{"endpoint", "create"}, args...), func(k string) string { return env[k] }, &out)
			return out.String(), err
		}}
	}
	secretIn := func(t *testing.T, out string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^(whsec_\w+)$`).FindAllStringSubmatch(out, -1)
		require.Len(t, m, 1, "the secret once: %s", out)
		return m[0][1]
	}

	t.Run("WebhookEndpoint", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		out, err := b.run("-url", "https://mirror.example.com/webhooks/stripe", "-connect")
		require.NoError(t, err)
		eps := b.fake.WebhookEndpoints()
		require.Len(t, eps, 1)
		ep := eps[0]
		require.Equal(t, "https://mirror.example.com/webhooks/stripe", ep.URL)
		require.Equal(t, []string{"*"}, ep.EnabledEvents)
		require.Equal(t, "2026-10-28.endive", ep.APIVersion)
		require.True(t, ep.Connect)
		require.False(t, ep.Thin)
		require.Equal(t, ep.Secret, secretIn(t, out))
		require.Contains(t, out, "created webhook endpoint "+ep.ID)
	})

	t.Run("ThinEventDestination", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		out, err := b.run("-url", "https://mirror.example.com/webhooks/stripe", "-thin")
		require.NoError(t, err)
		eps := b.fake.WebhookEndpoints()
		require.Len(t, eps, 1)
		ep := eps[0]
		require.True(t, ep.Thin)
		require.False(t, ep.Connect)
		require.Equal(t, []string{"*"}, ep.EnabledEvents)
		require.Equal(t, ep.Secret, secretIn(t, out))
		require.Contains(t, out, "created event destination (thin events) "+ep.ID)
	})

	t.Run("NeedsURL", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.run()
		require.ErrorContains(t, err, "-url must be")
		require.Empty(t, b.fake.WebhookEndpoints())
	})
}
