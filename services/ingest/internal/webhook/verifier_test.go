package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	stripewebhook "github.com/stripe/stripe-go/v76/webhook"

	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/ingest/internal/webhook"
)

func TestVerify(t *testing.T) {
	t.Parallel()

	const (
		oldSecret = "whsec_old"
		newSecret = "whsec_new"
	)
	payload := []byte(`{"id":"evt_1","object":"event"}`)
	now := time.Now()
	v, err := webhook.NewVerifier([]string{oldSecret, newSecret}, 300*time.Second)
	require.NoError(t, err)

	tests := []struct {
		name    string
		payload []byte
		header  string
		want    error
	}{
		{"FirstSecret", payload, eventstest.Sign(payload, oldSecret, now), nil},
		{"SecondSecret", payload, eventstest.Sign(payload, newSecret, now), nil},
		{"OneOfSeveralSignatures", payload, eventstest.Sign(payload, newSecret, now) + ",v1=" + fmt.Sprintf("%064x", 0), nil},
		{"WithinTolerance", payload, eventstest.Sign(payload, oldSecret, now.Add(-299*time.Second)), nil},
		{"Expired", payload, eventstest.Sign(payload, oldSecret, now.Add(-301*time.Second)), stripewebhook.ErrTooOld},
		{"WrongSecret", payload, eventstest.Sign(payload, "whsec_other", now), stripewebhook.ErrNoValidSignature},
		{"TamperedBody", []byte(`{"id":"evt_2","object":"event"}`), eventstest.Sign(payload, oldSecret, now), stripewebhook.ErrNoValidSignature},
		{"Missing", payload, "", stripewebhook.ErrNotSigned},
		// stripe-go reads a missing timestamp as the zero time.
		{"NoTimestamp", payload, "v1=" + fmt.Sprintf("%064x", 0), stripewebhook.ErrTooOld},
		{"BadTimestamp", payload, "t=yesterday,v1=00", stripewebhook.ErrInvalidHeader},
		{"OnlyV0Scheme", payload, fmt.Sprintf("t=%d,v0=%064x", now.Unix(), 0), stripewebhook.ErrNoValidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := v.Verify(tt.payload, tt.header)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestNewVerifierRejectsNoSecret(t *testing.T) {
	t.Parallel()
	_, err := webhook.NewVerifier(nil, time.Minute)
	require.Error(t, err)
}

// FuzzVerify checks the verifier against Stripe's definition of a signature
// for fuzzed payloads, secrets, timestamps and headers: a header signed with
// a configured secret verifies while it is within the tolerance, and stops
// verifying once one thing about it is wrong (a byte of the payload, the
// secret, the age, a byte of the header). Whatever the header, it verifies
// only if it carries a correct signature (signedCorrectly).
func FuzzVerify(f *testing.F) {
	const (
		tolerance   = 5 * time.Minute
		fixedSecret = "whsec_fixed"
	)
	// More seeds, in Go's corpus format, are in testdata/fuzz/FuzzVerify.
	payload := []byte(`{"id":"evt_1","object":"event"}`)
	f.Add(payload, "whsec_x", uint32(0), eventstest.Sign(payload, "whsec_x", time.Now()), uint16(0), byte('x'))
	f.Add(payload, fixedSecret, uint32(30), eventstest.Sign(payload, fixedSecret, time.Now())+",v1=00", uint16(5), byte('0'))
	f.Fuzz(func(t *testing.T, payload []byte, secret string, age uint32, header string, pos uint16, b byte) {
		// The fuzzed secret is the second one, so that a verifier that
		// tried only the first would fail.
		secrets := []string{fixedSecret, secret}
		v, err := webhook.NewVerifier(secrets, tolerance)
		require.NoError(t, err)
		// Taken before any Verify: a signature Verify finds fresh is fresh at
		// now too.
		now := time.Now()
		good := eventstest.Sign(payload, secret, now)
		require.True(t, signedCorrectly(good, payload, secrets, now, tolerance), "the oracle refuses a correct header")
		require.NoError(t, v.Verify(payload, good))
		require.NoError(t, v.Verify(payload, eventstest.Sign(payload, fixedSecret, now)))

		// Signed age seconds ago, from 0 to twice the tolerance. Signatures
		// are dated to the second, and a second or so passes before Verify
		// looks at the clock: the few seconds below the tolerance are left
		// out.
		tol := int64(tolerance / time.Second)
		ageSec := int64(age % uint32(2*tol))
		signed := eventstest.Sign(payload, secret, time.Unix(now.Unix()-ageSec, 0))
		switch {
		case ageSec <= tol-5:
			require.NoError(t, v.Verify(payload, signed), "signed %ds ago", ageSec)
		case ageSec > tol:
			require.ErrorIs(t, v.Verify(payload, signed), stripewebhook.ErrTooOld, "signed %ds ago", ageSec)
		}
		require.ErrorIs(t, v.Verify(payload, eventstest.Sign(payload, secret, now.Add(-tolerance-time.Minute))), stripewebhook.ErrTooOld)

		// The payload changed by a byte: flipped, added or removed.
		changed := [][]byte{append(slices.Clone(payload), b)}
		if len(payload) > 0 {
			flipped := slices.Clone(payload)
			flipped[int(pos)%len(flipped)] ^= max(b, 1)
			changed = append(changed, flipped, payload[:len(payload)-1], payload[1:])
		}
		for _, p := range changed {
			require.ErrorIs(t, v.Verify(p, good), stripewebhook.ErrNoValidSignature, "payload %q", p)
		}

		// Signed with a secret that is not configured: it differs from both
		// in length or prefix, so not even HMAC's zero padding of short keys
		// makes it equal to one of them.
		require.ErrorIs(t, v.Verify(payload, eventstest.Sign(payload, "whsec_unconfigured_"+secret, now)), stripewebhook.ErrNoValidSignature)

		// Mangled headers, and the fuzzed header alone and around a good
		// one: any of them may verify only if it carries a correct
		// signature.
		i := int(pos) % len(good)
		headers := []string{
			header,
			good + header,
			header + good,
			good + "," + header,
			header + "," + good,
			good[:i] + string(b) + good[i+1:], // a byte replaced
			good[:i] + string(b) + good[i:],   // a byte inserted
			good[:i] + good[i+1:],             // a byte removed
			good[:i],                          // cut short
		}
		for _, h := range headers {
			if err := v.Verify(payload, h); err == nil {
				require.True(t, signedCorrectly(h, payload, secrets, now, tolerance), "verified without a correct signature: %q", h)
			}
		}
	})
}

// signedCorrectly is Stripe's definition of a valid Stripe-Signature header
// (https://docs.stripe.com/webhooks#verify-manually), written apart from
// stripe-go: the header, a comma-separated list of key=value elements, has
// a t element whose timestamp is no older than tolerance at now, and a v1
// element that is the hex HMAC-SHA256, under one of secrets, of that
// timestamp, a dot and payload. The timestamp is signed as a decimal number:
// "t=0123" and "t=123" are the same moment.
func signedCorrectly(header string, payload []byte, secrets []string, now time.Time, tolerance time.Duration) bool {
	var times []int64
	var sigs [][]byte
	for _, el := range strings.Split(header, ",") {
		k, val, _ := strings.Cut(el, "=")
		switch k {
		case "t":
			if ts, err := strconv.ParseInt(val, 10, 64); err == nil {
				times = append(times, ts)
			}
		case "v1":
			if sig, err := hex.DecodeString(val); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	for _, ts := range times {
		if now.Sub(time.Unix(ts, 0)) > tolerance {
			continue
		}
		for _, secret := range secrets {
			mac := hmac.New(sha256.New, []byte(secret))
			fmt.Fprintf(mac, "%d.", ts)
			mac.Write(payload)
			want := mac.Sum(nil)
			for _, sig := range sigs {
				if hmac.Equal(sig, want) {
					return true
				}
			}
		}
	}
	return false
}
