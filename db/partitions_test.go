package db_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
)

func TestEventPartitions(t *testing.T) {
	t.Parallel()
	month := func(offset int) time.Time {
		now := time.Now().UTC()
		return time.Date(now.Year(), now.Month()+time.Month(offset), 1, 0, 0, 0, 0, time.UTC)
	}
	ev := func(id string, created time.Time) db.Event {
		return db.Event{ID: id, Type: "customer.updated", Livemode: false, Created: created,
			Data: fmt.Appendf(nil, `{"id":%q,"object":"event","data":{"object":{"id":"cus_%s","object":"customer"}}}`, id, id)}
	}
	insert := func(t *testing.T, pool *pgxpool.Pool, evs ...db.Event) []string {
		t.Helper()
		ids, err := db.InsertEvents(t.Context(), pool, evs)
		require.NoError(t, err)
		return ids
	}
	partitions := func(t *testing.T, pool *pgxpool.Pool) map[string]int {
		t.Helper()
		rows, err := pool.Query(t.Context(), `SELECT c.relname, (SELECT count(*) FROM stripe.events e WHERE e.tableoid = c.oid)
			FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'stripe.events'::regclass`)
		require.NoError(t, err)
		out := map[string]int{}
		for rows.Next() {
			var name string
			var n int
			require.NoError(t, rows.Scan(&name, &n))
			out[name] = n
		}
		require.NoError(t, rows.Err())
		return out
	}
	name := func(m time.Time) string { return fmt.Sprintf("events_y%04dm%02d", m.Year(), m.Month()) }

	t.Run("MonthsAheadExistAfterMigration", func(t *testing.T) {
		t.Parallel()
		pool := dbtest.New(t)
		// The template was migrated some time ago, maybe in an earlier
		// month: what the processor does at start.
		_, err := db.MaintainEventPartitions(t.Context(), pool, 0)
		require.NoError(t, err)
		got := partitions(t, pool)
		for i := 0; i <= db.EventMonthsAhead; i++ {
			require.Contains(t, got, name(month(i)))
		}
		require.Contains(t, got, "events_default")
	})

	t.Run("DedupByIDHoldsAcrossPartitions", func(t *testing.T) {
		t.Parallel()
		pool := dbtest.New(t)
		_, err := db.MaintainEventPartitions(t.Context(), pool, 0)
		require.NoError(t, err)
		now, old, next := month(0).Add(36*time.Hour), month(-7).Add(time.Hour), month(1).Add(time.Minute)
		evs := []db.Event{ev("evt_now", now), ev("evt_old", old), ev("evt_next", next)}
		require.ElementsMatch(t, []string{"evt_now", "evt_old", "evt_next"}, insert(t, pool, evs...))
		require.Empty(t, insert(t, pool, evs...), "a redelivery, whatever its month, meets its stored copy")
		got := partitions(t, pool)
		require.Equal(t, 1, got[name(month(0))])
		require.Equal(t, 1, got[name(month(1))])
		require.Equal(t, 1, got["events_default"], "a month without a partition: kept in the default")

		// Maintenance gives the old month its partition, moving the event.
		done, err := db.MaintainEventPartitions(t.Context(), pool, 0)
		require.NoError(t, err)
		require.Equal(t, []string{"created " + name(month(-7))}, done)
		got = partitions(t, pool)
		require.Equal(t, 1, got[name(month(-7))])
		require.Zero(t, got["events_default"])
		var compression string
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT attcompression::text FROM pg_attribute
			WHERE attrelid = ('stripe.' || $1)::regclass AND attname = 'data'`, name(month(-7))).Scan(&compression))
		require.Equal(t, "l", compression, "a new month compresses with lz4 as the others")
		require.Empty(t, insert(t, pool, evs...), "still one copy each after the move")
		var n int
		require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM stripe.events").Scan(&n))
		require.Equal(t, 3, n)
	})

	t.Run("RetentionDropsWholeMonths", func(t *testing.T) {
		t.Parallel()
		pool := dbtest.New(t)
		insert(t, pool, ev("evt_m5", month(-5).Add(time.Hour)), ev("evt_m3", month(-3)), ev("evt_m2", month(-2).Add(time.Hour)),
			ev("evt_m1", month(-1).Add(time.Hour)), ev("evt_m0", month(0).Add(time.Hour)))
		_, err := db.MaintainEventPartitions(t.Context(), pool, 0)
		require.NoError(t, err)
		require.Len(t, partitions(t, pool), 1+4+1+db.EventMonthsAhead, "default, four past months, this one and the months ahead")

		_, err = db.MaintainEventPartitions(t.Context(), pool, 1)
		require.ErrorContains(t, err, "at least 2")

		done, err := db.MaintainEventPartitions(t.Context(), pool, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"dropped " + name(month(-5)), "dropped " + name(month(-3))}, done)
		got := partitions(t, pool)
		require.NotContains(t, got, name(month(-3)))
		require.Equal(t, 1, got[name(month(-2))], "the two months before this one are kept")
		require.Equal(t, 1, got[name(month(-1))])

		// An event of a dropped month comes back: stored in the default, not
		// refused, and not given its month again; the next maintenance
		// removes it.
		require.Equal(t, []string{"evt_m3"}, insert(t, pool, ev("evt_m3", month(-3))))
		done, err = db.MaintainEventPartitions(t.Context(), pool, 2)
		require.NoError(t, err)
		require.Empty(t, done)
		require.Zero(t, partitions(t, pool)["events_default"])
	})

	t.Run("QueriesByObjectUseAnIndex", func(t *testing.T) {
		t.Parallel()
		pool := dbtest.New(t)
		_, err := db.MaintainEventPartitions(t.Context(), pool, 0)
		require.NoError(t, err)
		var plan []string
		err = pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(t.Context(), "SET LOCAL enable_seqscan = off"); err != nil {
				return err
			}
			rows, err := tx.Query(t.Context(), "EXPLAIN SELECT created, type FROM stripe.events WHERE object_type = 'customer' AND object_id = 'cus_1' ORDER BY created")
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		require.NoError(t, err)
		require.Contains(t, strings.Join(plan, "\n"), "object_id_idx", "every partition is read by its object_id index")
	})
}

// TestObjectsAreCompressedWithLZ4: every relation's objects, and the events,
// are TOASTed with lz4 (schema 0014), cheaper in CPU than pglz.
func TestObjectsAreCompressedWithLZ4(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	rows, err := pool.Query(t.Context(), `
		SELECT c.relname FROM pg_attribute AS a
		JOIN pg_class AS c ON c.oid = a.attrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace
		WHERE n.nspname = 'stripe' AND a.attname = 'data' AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
			AND a.attcompression <> 'l'`)
	require.NoError(t, err)
	pglz, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, pglz, "relations whose data is not compressed with lz4")
}
