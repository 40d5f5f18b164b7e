package db_test

import (
	"context"
	"io/fs"
	"maps"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
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
			"SELECT count(*) FROM stripe.goose_db_version WHERE version_id > 0").Scan(&applied))
		files, err := fs.Glob(db.Migrations, "*.sql")
		require.NoError(t, err)
		require.Len(t, files, applied)
	})
}

// The catalog and the schema describe the same relations: every entry has
// its relation, every relation (but the events and the dead letters) an
// entry, and every typed column is computed as the catalog says.
func TestSchemaMatchesCatalog(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	relations := map[string]map[string]column{}
	rows, err := pool.Query(t.Context(), `
		SELECT table_name, column_name, data_type, coalesce(generation_expression, '')
		FROM information_schema.columns WHERE table_schema = 'stripe'
			AND table_name NOT IN ( -- the month partitions of stripe.events are stripe.events
				SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
				WHERE i.inhparent = 'stripe.events'::regclass)`)
	require.NoError(t, err)
	for rows.Next() {
		var table string
		var c column
		require.NoError(t, rows.Scan(&table, &c.name, &c.sqlType, &c.expr))
		if relations[table] == nil {
			relations[table] = map[string]column{}
		}
		relations[table][c.name] = c
	}
	require.NoError(t, rows.Err())

	standard := []string{"id", "account", "livemode", "deleted", "data", "state_at", "last_event_id", "api_version", "updated_at"}
	for _, res := range catalog.All() {
		cols, ok := relations[res.Relation()]
		require.True(t, ok, "catalog entry %s has no relation stripe.%s: add a migration", res.Object, res.Relation())
		want := slices.Clone(standard)
		if res.Parent != "" {
			want = append(want, "parent")
		}
		for _, c := range res.Columns {
			sqlType, expr := db.ColumnSQL(c)
			want = append(want, c.Name)
			have, ok := cols[c.Name]
			require.True(t, ok, "stripe.%s has no column %s", res.Relation(), c.Name)
			require.Equal(t, normalize(t, pool, c.Name, sqlType, expr), have, "stripe.%s.%s is not computed as the catalog says", res.Relation(), c.Name)
		}
		require.ElementsMatch(t, want, slices.Collect(maps.Keys(cols)), "stripe.%s has columns the catalog does not know", res.Relation())
		delete(relations, res.Relation())
	}
	delete(relations, "events")
	delete(relations, "dead_letters")
	delete(relations, "pending_fetches")
	delete(relations, "reconciliations")
	delete(relations, "goose_db_version") // goose's record of the migrations applied
	require.Empty(t, slices.Collect(maps.Keys(relations)), "relations without a catalog entry")
}

type column struct{ name, sqlType, expr string }

// normalize returns the column as information_schema shows a generated
// column of sqlType computed by expr: PostgreSQL's own rendering, so that
// two ways of writing one expression compare equal.
func normalize(t *testing.T, pool *pgxpool.Pool, name, sqlType, expr string) column {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // a rollback of a read
	_, err = tx.Exec(ctx, "CREATE TEMP TABLE probe (data jsonb, c "+sqlType+" GENERATED ALWAYS AS ("+expr+") STORED) ON COMMIT DROP")
	require.NoError(t, err, expr)
	c := column{name: name}
	require.NoError(t, tx.QueryRow(ctx, `
		SELECT data_type, generation_expression FROM information_schema.columns
		WHERE table_name = 'probe' AND column_name = 'c' AND table_schema LIKE 'pg_temp%'`).Scan(&c.sqlType, &c.expr))
	return c
}
