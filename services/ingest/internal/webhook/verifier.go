// Package webhook checks that a request really comes from Stripe.
package webhook

import (
	"errors"
	"fmt"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v76/webhook"
)

// Verifier checks Stripe-Signature headers against one or more endpoint
// secrets. Several secrets are how rotation works (Stripe signs with the old
// and the new secret while both are valid) and how one ingest serves a
// platform endpoint and a Connect endpoint, each with its own secret.
type Verifier struct {
	secrets   []string
	tolerance time.Duration
}

// NewVerifier returns a Verifier that accepts a signature made with any of
// secrets no longer than tolerance ago.
func NewVerifier(secrets []string, tolerance time.Duration) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no webhook secret")
	}
	if tolerance <= 0 {
		return nil, fmt.Errorf("tolerance must be positive, have %s", tolerance)
	}
	return &Verifier{secrets: secrets, tolerance: tolerance}, nil
}

// Verify checks header, the Stripe-Signature of payload, as Stripe specifies
// (https://docs.stripe.com/webhooks#verify-manually): an HMAC-SHA256 of
// "timestamp.payload" under the secret equal to any v1 signature, and a
// timestamp within the tolerance. stripe-go's webhook package does the check,
// without ConstructEvent's API-version match: a mirror stores events of every
// version.
//
// The error is one of stripe-go's: ErrNotSigned, ErrInvalidHeader,
// ErrTooOld or ErrNoValidSignature.
func (v *Verifier) Verify(payload []byte, header string) error {
	var err error
	for _, secret := range v.secrets {
		err = stripewebhook.ValidatePayloadWithTolerance(payload, header, secret, v.tolerance)
		if !errors.Is(err, stripewebhook.ErrNoValidSignature) {
			// Valid, or wrong whatever the secret (missing, malformed, too old).
			return err
		}
	}
	return err
}
