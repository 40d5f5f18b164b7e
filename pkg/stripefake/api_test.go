package stripefake_test

import (
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// newAPI returns a stripe-go client whose API backend is the fake at url,
// with the given retry budget and stripe-go's logging off. It lives in the
// tests: client imports every resource package of stripe-go, which the
// binaries serving the fake need not compile.
func newAPI(url, key string, maxNetworkRetries int64) *client.API {
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(url),
		MaxNetworkRetries: stripe.Int64(maxNetworkRetries),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return client.New(key, &stripe.Backends{API: backend, Connect: backend, Uploads: backend})
}
