package events_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events"
)

// TestListingMarkers round-trips each marker through its message, and
// refuses what cannot be one.
func TestListingMarkers(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, m := range []interface{ Msg() (*nats.Msg, error) }{
		events.ListingStarted{Run: "r1", Account: "acct_1", Objects: []string{"customer"}},
		events.ListingComplete{Run: "r1", Listed: []events.ListedResource{{Object: "customer", Objects: 2, Digest: 1<<47 + 3}}},
		events.ListComplete{Run: "r1", Objects: []string{"line_item"}, Parent: "in_1", FetchedAt: at, Items: []string{"il_1"}},
	} {
		msg, err := m.Msg()
		require.NoError(t, err)
		require.NotEmpty(t, msg.Header.Get(nats.MsgIdHdr))
		got, err := events.ParseMarker(msg.Subject, msg.Data)
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	for subject, body := range map[string]string{
		events.ListingStartedSubject:       `{"objects":["customer"]}`,
		events.ListingCompleteSubject:      `not json`,
		events.ListCompleteSubject:         `{"run":"r1","items":[]}`,
		"stripe.listing.other":             `{"run":"r1"}`,
		events.ListingStartedSubject + "x": `{}`,
	} {
		_, err := events.ParseMarker(subject, []byte(body))
		require.ErrorIs(t, err, events.ErrNotMarker, subject)
	}
}
