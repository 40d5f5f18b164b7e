package stripeapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"github.com/stripesync/stripesync/pkg/events/envflag"
)

// DefaultBaseURL is Stripe's API.
const DefaultBaseURL = "https://api.stripe.com"

// DefaultAPIVersion is the Stripe API version the mirror asks for unless
// STRIPE_API_VERSION says otherwise: the current version when this release
// was made. stripe-go v76 pins 2023-10-16; the client overrides it on every
// request, so every object the mirror fetches has one shape. Set the
// webhook endpoint (or event destination) to the same version, so that
// webhooks and fetched objects agree.
const DefaultAPIVersion = "2026-10-28.endive"

// Config is how a service reaches the Stripe API: the settings STRIPE_API_KEY
// and STRIPE_API_BASE, the same in every service that has them.
type Config struct {
	// Key is a secret (sk_…) or restricted (rk_…) key; empty when the
	// service runs without the API.
	Key envflag.Secret
	// BaseURL is the API's address, DefaultBaseURL unless a test points it
	// at a fake.
	BaseURL string
	// APIVersion is sent as Stripe-Version on every request
	// (https://docs.stripe.com/api/versioning), DefaultAPIVersion unless
	// set.
	APIVersion string
}

// BindFlags registers -stripe-api-key and -stripe-api-base on b, writing into
// c. keyUse ends the key's usage text: what the service does with the key.
func BindFlags(b *envflag.Binder, c *Config, keyUse string) {
	b.SecretVar(&c.Key, "stripe-api-key", "secret (sk_…) or restricted (rk_…) key with read access, "+keyUse)
	b.StringVar(&c.BaseURL, "stripe-api-base", DefaultBaseURL, "Stripe API base URL")
	b.StringVar(&c.APIVersion, "stripe-api-version", DefaultAPIVersion, "Stripe API version of every request, and so of every object fetched; set the webhook endpoint to the same")
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
	case !apiVersion.MatchString(c.APIVersion):
		return fmt.Errorf("STRIPE_API_VERSION must be a dated Stripe API version such as %s, have %q", DefaultAPIVersion, c.APIVersion)
	}
	return nil
}

// apiVersion is the form of Stripe's API versions: a date, and since 2024
// the release's name ("2026-10-28.endive").
var apiVersion = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}(\.[a-z]+)?$`)

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
	return New(c.BaseURL, string(c.Key), lim, log, WithAPIVersion(c.APIVersion))
}
