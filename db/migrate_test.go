package db_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/events"
)

func TestMigrate(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentStartsApplyOnce", func(t *testing.T) {
		t.Parallel()
		// An empty database, as two processors starting together find it.
		pool := dbtest.NewEmpty(t)
		g, ctx := errgroup.WithContext(t.Context())
		for range 4 {
			g.Go(func() error { return db.Migrate(ctx, pool) })
		}
		require.NoError(t, g.Wait())

		var applied int
		require.NoError(t, pool.QueryRow(t.Context(),
			"SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied))
		files, err := fs.Glob(db.Migrations, "*.sql")
		require.NoError(t, err)
		require.Len(t, files, applied)
	})

	t.Run("EveryResourceHasItsTable", func(t *testing.T) {
		t.Parallel()
		pool := dbtest.New(t)
		for _, r := range events.Resources {
			cols := columns(t, pool, r.Table)
			want := []string{"id", "account", "livemode", "deleted", "data", "state_at", "last_event_id", "updated_at"}
			if r.Parent != "" {
				want = append(want, "parent")
			}
			for _, c := range want {
				require.Contains(t, cols, c, "stripe.%s", r.Table)
			}
		}
	})
}

func columns(t *testing.T, pool *pgxpool.Pool, table string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		"SELECT column_name FROM information_schema.columns WHERE table_schema = 'stripe' AND table_name = $1", table)
	require.NoError(t, err)
	var cols []string
	for rows.Next() {
		var c string
		require.NoError(t, rows.Scan(&c))
		cols = append(cols, c)
	}
	require.NoError(t, rows.Err())
	return cols
}
