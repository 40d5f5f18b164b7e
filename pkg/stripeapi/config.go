package stripeapi

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"

	"github.com/stripesync/stripesync/pkg/events/envflag"
)

// DefaultBaseURL is Stripe's API.
const DefaultBaseURL = "https://api.stripe.com"

// Config is how a service reaches the Stripe API: the settings STRIPE_API_KEY
// and STRIPE_API_BASE, the same in every service that has them.
type Config struct {
	// Key is a secret (sk_…) or restricted (rk_…) key; empty when the
	// service runs without the API.
	Key envflag.Secret
	// BaseURL is the API's address, DefaultBaseURL unless a test points it
	// at a fake.
	BaseURL string
}

// BindFlags registers -stripe-api-key and -stripe-api-base on b, writing into
// c. keyUse ends the key's usage text: what the service does with the key.
func BindFlags(b *envflag.Binder, c *Config, keyUse string) {
	b.SecretVar(&c.Key, "stripe-api-key", "secret (sk_…) or restricted (rk_…) key with read access, "+keyUse)
	b.StringVar(&c.BaseURL, "stripe-api-base", DefaultBaseURL, "Stripe API base URL")
}

// Validate names the first setting that cannot work. An empty key is an
// error only when keyRequired. The key itself never appears in the error.
func (c Config) Validate(keyRequired bool) error {
	k := string(c.Key)
	switch {
	case k == "" && keyRequired:
		return errors.New("STRIPE_API_KEY is required: a secret (sk_…) or restricted (rk_…) key with read access")
	case k != "" && !strings.HasPrefix(k, "sk_") && !strings.HasPrefix(k, "rk_"):
		return errors.New("STRIPE_API_KEY must be a secret (sk_…) or restricted (rk_…) key")
	case !isHTTPURL(c.BaseURL):
		// Not shown: a URL may carry a password.
		return errors.New("STRIPE_API_BASE must be an http(s) URL with a host, such as " + DefaultBaseURL)
	}
	return nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Livemode is the key's mode: objects fetched with a live key are live, with
// a test key (or none) they are not.
func (c Config) Livemode() bool {
	k := string(c.Key)
	return strings.HasPrefix(k, "sk_live_") || strings.HasPrefix(k, "rk_live_")
}

// Client returns a Client for c's key and base URL through lim.
func (c Config) Client(lim *Limiter, log *slog.Logger) *Client {
	return New(c.BaseURL, string(c.Key), lim, log)
}
