package backfill_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
)

func TestSelect(t *testing.T) {
	t.Parallel()
	rules, err := backfill.Select([]string{"invoice_line_items", "prices"})
	require.NoError(t, err)
	var tables []string
	for _, r := range rules {
		tables = append(tables, r.Table)
	}
	require.ElementsMatch(t, []string{"invoices", "prices"}, tables, "line items come from their invoices")

	_, err = backfill.Select([]string{"unicorns"})
	require.ErrorContains(t, err, "unicorns")

	all, err := backfill.Select(nil)
	require.NoError(t, err)
	require.Equal(t, backfill.Rules, all)
}

// Every mirrored resource is backfilled by some rule.
func TestEveryResourceHasARule(t *testing.T) {
	t.Parallel()
	for _, r := range events.Resources {
		rules, err := backfill.Select([]string{r.Table})
		require.NoError(t, err, r.Table)
		require.NotEmpty(t, rules, r.Table)
	}
}

func TestRunIDNamesTheRequest(t *testing.T) {
	t.Parallel()
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := backfill.Request{Resources: []string{"prices", "customers"}, Since: since}
	b := backfill.Request{Resources: []string{"customers", "prices"}, Since: since}
	require.Equal(t, a.RunID(), b.RunID(), "order does not matter")
	b.Account = "acct_1"
	require.NotEqual(t, a.RunID(), b.RunID())
}
