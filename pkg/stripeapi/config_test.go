package stripeapi_test

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events/envflag"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	parse := func(t *testing.T, env map[string]string, args ...string) stripeapi.Config {
		t.Helper()
		var c stripeapi.Config
		b := envflag.New(flag.NewFlagSet("test", flag.ContinueOnError))
		stripeapi.BindFlags(b, &c, "to test")
		require.NoError(t, b.Parse(args, func(k string) string { return env[k] }))
		return c
	}

	t.Run("DefaultsToStripeWithoutKey", func(t *testing.T) {
		t.Parallel()
		c := parse(t, nil)
		require.Equal(t, stripeapi.Config{BaseURL: stripeapi.DefaultBaseURL, APIVersion: stripeapi.DefaultAPIVersion}, c)
		require.NoError(t, c.Validate(false))
		require.ErrorContains(t, c.Validate(true), "STRIPE_API_KEY is required")
		require.False(t, c.Livemode())
	})

	t.Run("ReadsTheEnvironment", func(t *testing.T) {
		t.Parallel()
		c := parse(t, map[string]string{"STRIPE_API_KEY": "rk_live_abc", "STRIPE_API_BASE": "http://stripe.test:4000", "STRIPE_API_VERSION": "2025-03-31.basil"})
		require.Equal(t, stripeapi.Config{Key: "rk_live_abc", BaseURL: "http://stripe.test:4000", APIVersion: "2025-03-31.basil"}, c)
		require.NoError(t, c.Validate(true))
		require.True(t, c.Livemode())
	})

	t.Run("Livemode", func(t *testing.T) {
		t.Parallel()
		for key, live := range map[envflag.Secret]bool{
			"sk_live_1": true, "rk_live_1": true, "sk_test_1": false, "rk_test_1": false, "": false,
		} {
			require.Equal(t, live, stripeapi.Config{Key: key}.Livemode(), key)
		}
	})

	t.Run("InvalidSettingsAreNamedNotEchoed", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			c    stripeapi.Config
			want string
		}{
			{stripeapi.Config{Key: "pk_live_secretish", BaseURL: stripeapi.DefaultBaseURL, APIVersion: stripeapi.DefaultAPIVersion}, "STRIPE_API_KEY"},
			{stripeapi.Config{BaseURL: stripeapi.DefaultBaseURL, APIVersion: "endive"}, "STRIPE_API_VERSION"},
			{stripeapi.Config{Key: "whsec_secretish", BaseURL: stripeapi.DefaultBaseURL}, "STRIPE_API_KEY"},
			{stripeapi.Config{BaseURL: "ftp://u:secretish@api.stripe.com"}, "STRIPE_API_BASE"},
			{stripeapi.Config{BaseURL: "https://"}, "STRIPE_API_BASE"},
			{stripeapi.Config{BaseURL: "api.stripe.com"}, "STRIPE_API_BASE"},
		}
		for _, tt := range tests {
			err := tt.c.Validate(false)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "secretish")
		}
	})
}
