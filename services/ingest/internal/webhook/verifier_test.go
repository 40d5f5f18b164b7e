package webhook_test

import (
	"fmt"
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

func FuzzVerify(f *testing.F) {
	payload := []byte(`{"id":"evt_1"}`)
	f.Add(payload, eventstest.Sign(payload, "whsec_x", time.Now()))
	f.Add(payload, "t=1,v1=zz")
	f.Add([]byte{}, ",,,=")
	v, err := webhook.NewVerifier([]string{"whsec_x"}, time.Hour)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, payload []byte, header string) {
		// Never panics, and accepts only what was signed with the secret.
		if v.Verify(payload, header) == nil {
			require.Contains(t, header, "v1=")
		}
	})
}
