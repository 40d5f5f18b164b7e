package main

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events"
)

func TestGenerator(t *testing.T) {
	t.Parallel()
	customers := []string{"cus_a", "cus_b", "cus_c"}
	base := time.Unix(1_800_000_000, 0)
	g, err := newGenerator(7, base, thinEvents{share: 0.1, customers: customers})
	require.NoError(t, err)

	t.Run("EveryEventIsAStripeEventOfItsIndex", func(t *testing.T) {
		t.Parallel()
		thin := 0
		for i := range 2000 {
			ev := g.event(i)
			env, err := events.ParseEnvelope(ev.body)
			require.NoError(t, err, "event %d", i)
			require.Equal(t, ev.id, env.ID)
			got, ok := g.eventIndex(env.ID)
			require.True(t, ok)
			require.Equal(t, i, got)
			require.True(t, base.Add(time.Duration(i)*time.Second).Equal(env.Created), "event %d created %s", i, env.Created)
			if ev.thin {
				thin++
				require.NotNil(t, env.Thin, "event %d", i)
				require.Equal(t, "v1.customer.updated", env.Type)
				require.Contains(t, customers, env.Thin.RelatedObject.ID)
				require.Equal(t, "/v1/customers/"+env.Thin.RelatedObject.ID, env.Thin.RelatedObject.URL)
				continue
			}
			require.Nil(t, env.Thin)
			var obj map[string]any
			require.NoError(t, json.Unmarshal(env.Object, &obj))
			require.Equal(t, float64(env.Created.Unix()), obj["created"])
			require.NotEmpty(t, obj["id"])
		}
		require.InDelta(t, 200, thin, 60, "thin events of 2000 at a share of 0.1")
	})

	t.Run("SameIndexSameEvent", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, g.event(1234).body, g.event(1234).body)
		other, err := newGenerator(8, base, thinEvents{})
		require.NoError(t, err)
		require.NotEqual(t, g.event(3).id, other.event(3).id)
	})

	t.Run("ForeignIDsAreNotIndexed", func(t *testing.T) {
		t.Parallel()
		for _, id := range []string{"evt_bench8_3", "evt_bench7_", "evt_bench7_x", "evt_bench7_-1", "evt_1Nq"} {
			_, ok := g.eventIndex(id)
			require.False(t, ok, id)
		}
	})

	t.Run("OnlySomeTypes", func(t *testing.T) {
		t.Parallel()
		g, err := newGenerator(9, base, thinEvents{})
		require.NoError(t, err)
		require.NoError(t, g.only([]string{"customer.updated", "invoice.paid"}))
		for i := range 500 {
			require.Contains(t, []string{"customer", "invoice"}, g.event(i).object)
		}
		require.Error(t, g.only([]string{"customer.created"}))
	})

	t.Run("ThinEventsNeedCustomers", func(t *testing.T) {
		t.Parallel()
		_, err := newGenerator(1, base, thinEvents{share: 0.5})
		require.Error(t, err)
	})
}

func TestCorpus(t *testing.T) {
	t.Parallel()
	evs, err := corpus(5000, 1)
	require.NoError(t, err)
	ids, objects := map[string]bool{}, map[string]int{}
	for _, ev := range evs {
		require.False(t, ev.thin)
		require.False(t, ids[ev.id], "event id %s repeats", ev.id)
		ids[ev.id] = true
		env, err := events.ParseEnvelope(ev.body)
		require.NoError(t, err)
		var obj struct{ ID string }
		require.NoError(t, json.Unmarshal(env.Object, &obj))
		objects[obj.ID]++
	}
	// One event in five updates an object sent before (after the first ten).
	require.InDelta(t, 4000, len(objects), 150)
	types := map[string]bool{}
	for _, ev := range evs {
		types[ev.object] = true
	}
	require.Len(t, types, len(mix))
}

func TestQuantiles(t *testing.T) {
	t.Parallel()
	var ms []float64
	for v := 100; v >= 1; v-- {
		ms = append(ms, float64(v))
	}
	q := quantilesOf(ms)
	require.Equal(t, quantiles{n: 100, p50: 51, p90: 91, p99: 100, most: 100}, q)
	require.Equal(t, 100.0, ms[0], "the input is left in its order")
	require.Equal(t, quantiles{}, quantilesOf(nil))
}

func TestOneTwoFive(t *testing.T) {
	t.Parallel()
	var values []float64
	for _, tick := range (oneTwoFive{}).Ticks(0.3, 60) {
		values = append(values, tick.Value)
	}
	require.True(t, slices.Equal([]float64{0.5, 1, 2, 5, 10, 20, 50}, values), "%v", values)
}
