package backfill

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
)

func TestProgressCoverage(t *testing.T) {
	t.Parallel()
	customer, coupon := catalog.MustLookup("customer"), catalog.MustLookup("coupon")

	t.Run("PagesNewestFirstThenSplit", func(t *testing.T) {
		t.Parallel()
		p := NewProgress()
		tk := &task{ID: "platform.customer", res: customer, From: 0, To: 1000, Floor: 200}
		p.plan(tk)
		require.Equal(t, Coverage{Planned: 800, Tasks: 1}, p.Coverage()[customer], "the range starts at the account's creation")

		p.listed(tk, 900, false)
		require.Equal(t, Coverage{Planned: 800, Covered: 100, Tasks: 1}, p.Coverage()[customer])
		p.listed(tk, 950, false) // an older page's report arriving late moves nothing back
		require.Equal(t, int64(100), p.Coverage()[customer].Covered)

		// A split hands [From, 500) to a new task: the planned range is the
		// same, cut in two, and what was covered stays covered.
		older := &task{ID: "platform.customer.500", res: customer, From: 0, To: 500, Floor: 200}
		tk.From = 500
		p.plan(older)
		p.plan(tk)
		require.Equal(t, Coverage{Planned: 800, Covered: 100, Tasks: 2}, p.Coverage()[customer])
		require.InDelta(t, 0.125, p.Coverage()[customer].Share(), 1e-9)

		p.listed(older, 300, false)
		p.listed(tk, 0, true)
		require.Equal(t, Coverage{Planned: 800, Covered: 200 + 500, Tasks: 2, Done: 1}, p.Coverage()[customer])
		p.listed(older, 0, true)
		require.Equal(t, 1.0, p.Coverage()[customer].Share())
	})

	t.Run("WithoutCreatedRangeCountsTasks", func(t *testing.T) {
		t.Parallel()
		p := NewProgress()
		a, b := &task{ID: "platform.coupon", res: coupon}, &task{ID: "acct_1.coupon", res: coupon}
		p.plan(a)
		p.plan(b)
		p.listed(a, 123, false)
		require.Zero(t, p.Coverage()[coupon].Share())
		p.listed(a, 0, true)
		require.Equal(t, 0.5, p.Coverage()[coupon].Share())
		require.Equal(t, []*catalog.Resource{coupon}, p.Resources(), "planned resources are shown before their first object")
	})

	t.Run("ResumedTaskKeepsItsCounts", func(t *testing.T) {
		t.Parallel()
		p := NewProgress()
		tk := &task{ID: "platform.customer", res: customer, To: 1000, Objects: 42, Done: true}
		p.add(tk.res, tk.Objects)
		p.plan(tk)
		require.Equal(t, int64(42), p.Total())
		require.Equal(t, Coverage{Planned: 1000, Covered: 1000, Tasks: 1, Done: 1}, p.Coverage()[customer])
	})
}
