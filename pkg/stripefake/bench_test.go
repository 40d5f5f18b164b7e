package stripefake_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/stripefake"
)

func BenchmarkSeed1000Customers(b *testing.B) {
	for b.Loop() {
		s := stripefake.New(stripefake.Options{})
		require.NoError(b, stripefake.Seed(s, stripefake.SeedOptions{Customers: 1000, RandSeed: 1, Now: now}))
	}
}

// BenchmarkInvoicePage measures one page of 100 invoices, each with its
// nested lines, over HTTP: the fake's cost per request in a backfill.
func BenchmarkInvoicePage(b *testing.B) {
	s := stripefake.New(stripefake.Options{NowFunc: nowFunc})
	require.NoError(b, stripefake.Seed(s, stripefake.SeedOptions{Customers: 1000, RandSeed: 1}))
	url := s.Start(b)
	after := s.IDs("", "invoice")[500]
	b.ResetTimer()
	for b.Loop() {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, url+"/v1/invoices?limit=100&starting_after="+after, nil)
		require.NoError(b, err)
		req.Header.Set("Authorization", "Bearer "+stripefake.TestKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(b, err)
		n, err := io.Copy(io.Discard, resp.Body)
		require.NoError(b, err)
		require.NoError(b, resp.Body.Close())
		b.SetBytes(n)
	}
}
