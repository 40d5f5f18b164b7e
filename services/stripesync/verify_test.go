package stripesync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/form"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/services/stripesync"
)

// TestVerify fills a mirror with the newest page of every relation of a
// seeded fake, leaving one customer out, then changes one customer and
// deletes another in the fake: verify finds no drift before the changes,
// and each kind after them.
func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	fake := stripefake.New(stripefake.Options{})
	require.NoError(t, stripefake.Seed(fake, stripefake.SeedOptions{Customers: 3, ConnectedAccounts: 1, RandSeed: 7}))
	apiURL := fake.Start(t)
	// The mirror is written as the owner and verify reads it as the
	// read-only role, as db/roles.sql sets them up.
	roles := dbtest.NewRoles(t)
	dbURL := roles.ReaderURL
	pool, err := pgxpool.New(ctx, roles.OwnerURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	customers := fake.IDs("", "customer") // newest first
	require.GreaterOrEqual(t, len(customers), 3)
	left, changed, deleted := customers[0], customers[1], customers[2]

	client := stripeapi.New(apiURL, stripefake.TestKey, stripeapi.NewLimiter(1000, 100), slog.New(slog.DiscardHandler))
	for _, account := range append([]string{""}, fake.ConnectedAccounts()...) {
		for _, res := range catalog.All() {
			if res.List == nil || res.List.Per != "" || (account != "" && res.List.PlatformOnly) {
				continue
			}
			var objs []db.Object
			err := client.List(ctx, res.List.Path, stripeapi.ListParams{Account: account, Filters: res.List.Filters},
				func(pg *stripeapi.Page, _ *form.Values) error {
					for _, it := range pg.Items {
						if it.Object == res.Object && it.ID != left {
							objs = append(objs, db.Object{ID: it.ID, Account: account, Data: it.Raw, StateAt: pg.FetchedAt})
						}
					}
					return nil
				})
			require.NoError(t, err)
			_, err = db.UpsertObjects(ctx, pool, res, objs)
			require.NoError(t, err)
		}
	}

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_KEY": stripefake.TestKey, "STRIPE_API_BASE": apiURL, "VERIFY_RATE_LIMIT": "2000"}
		err := stripesync.Run(context.WithoutCancel(ctx), append([]string{"verify"}, args...), func(k string) string { return env[k] }, &out)
		return out.String(), err
	}
	type report struct {
		Drift []struct{ Kind, Relation, Account, ID string } `json:"drift"`
	}
	drifts := func(out string) []string {
		var rep report
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		var ds []string
		for _, d := range rep.Drift {
			ds = append(ds, d.Kind+" "+d.Relation+" "+d.ID)
		}
		return ds
	}

	t.Run("OnlyTheLeftOutIsMissing", func(t *testing.T) {
		out, err := run("-sample", "10", "-json")
		var de stripesync.DriftError
		require.ErrorAs(t, err, &de)
		require.Equal(t, 2, de.ExitCode())
		require.Equal(t, []string{"missing customers " + left}, drifts(out))
	})

	// The mirror catches up on the one left out: no drift.
	raw, err := json.Marshal(must(fake.Object("", "customer", left)))
	require.NoError(t, err)
	_, err = db.UpsertObjects(ctx, pool, catalog.MustLookup("customer"), []db.Object{{ID: left, Data: raw, StateAt: time.Now()}})
	require.NoError(t, err)

	t.Run("NoDriftWhenTheyAgree", func(t *testing.T) {
		metrics := filepath.Join(t.TempDir(), "verify.prom")
		out, err := run("-sample", "10", "-metrics-file", metrics)
		require.NoError(t, err, out)
		require.Contains(t, out, "no drift")
		require.Regexp(t, `customers +platform +[1-9]`, out)
		prom, err := os.ReadFile(metrics)
		require.NoError(t, err)
		require.Contains(t, string(prom), `stripe_sync_verify_drift_objects{relation="customers",account="platform",kind="stale"} 0`)
	})

	_, err = fake.UpdateCustomer("", changed, map[string]any{"name": "Changed Behind The Mirror"})
	require.NoError(t, err)
	_, err = fake.DeleteCustomer("", deleted)
	require.NoError(t, err)

	t.Run("ChangedIsStaleDeletedIsExtra", func(t *testing.T) {
		metrics := filepath.Join(t.TempDir(), "verify.prom")
		out, err := run("-sample", "10", "-json", "-metrics-file", metrics)
		require.ErrorAs(t, err, new(stripesync.DriftError))
		ds := drifts(out)
		require.Contains(t, ds, "stale customers "+changed)
		require.Contains(t, ds, "extra customers "+deleted)
		require.False(t, slices.ContainsFunc(ds, func(d string) bool { return d[:7] == "missing" }), ds)
		prom, err := os.ReadFile(metrics)
		require.NoError(t, err)
		require.Contains(t, string(prom), `stripe_sync_verify_drift_objects{relation="customers",account="platform",kind="stale"} 1`)
		require.Contains(t, string(prom), `stripe_sync_verify_drift_objects{relation="customers",account="platform",kind="extra"} 1`)

		out, err = run("-sample", "10")
		require.ErrorAs(t, err, new(stripesync.DriftError))
		require.Contains(t, out, "stale   customers platform "+changed)
	})
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("not found")
	}
	return v
}
