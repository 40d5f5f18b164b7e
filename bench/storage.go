package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// storage is what a run left on disk in schema stripe, in bytes, and the WAL
// written while the processor ran. The WAL figure is the cluster's: on a
// server other work also writes to it counts too.
type storage struct {
	eventsHeap, eventsTOAST, eventsIndexes int64
	relsHeap, relsTOAST, relsIndexes       int64
	wal                                    int64
}

// measureStorage reads the sizes of stripe.events (with its partitions) and
// of every other table of schema stripe right after a run, without VACUUM:
// the bytes of their pages, free space in them included.
func measureStorage(ctx context.Context, pool *pgxpool.Pool, walFrom string) (storage, error) {
	var s storage
	err := pool.QueryRow(ctx, `
WITH t AS (
    SELECT c.oid, c.reltoastrelid,
        c.oid = 'stripe.events'::regclass -- before it was partitioned
            OR c.oid IN (SELECT relid FROM pg_partition_tree('stripe.events'::regclass)) AS is_event
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = 'stripe' AND c.relkind = 'r'
)
SELECT
    coalesce(sum(pg_relation_size(oid)) FILTER (WHERE is_event), 0)::bigint,
    coalesce(sum(pg_total_relation_size(reltoastrelid)) FILTER (WHERE is_event AND reltoastrelid <> 0), 0)::bigint,
    coalesce(sum(pg_indexes_size(oid)) FILTER (WHERE is_event), 0)::bigint,
    coalesce(sum(pg_relation_size(oid)) FILTER (WHERE NOT is_event), 0)::bigint,
    coalesce(sum(pg_total_relation_size(reltoastrelid)) FILTER (WHERE NOT is_event AND reltoastrelid <> 0), 0)::bigint,
    coalesce(sum(pg_indexes_size(oid)) FILTER (WHERE NOT is_event), 0)::bigint,
    pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint
FROM t`, walFrom).Scan(&s.eventsHeap, &s.eventsTOAST, &s.eventsIndexes, &s.relsHeap, &s.relsTOAST, &s.relsIndexes, &s.wal)
	return s, err
}

func walPosition(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var lsn string
	err := pool.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn)
	return lsn, err
}

func (s storage) report(n int) string {
	per := func(b int64) float64 { return float64(b) / float64(n) }
	return fmt.Sprintf("bytes per event: stripe.events heap %.0f, TOAST %.0f, indexes %.0f; relations heap %.0f, TOAST %.0f, indexes %.0f; total %.0f; WAL %.0f",
		per(s.eventsHeap), per(s.eventsTOAST), per(s.eventsIndexes), per(s.relsHeap), per(s.relsTOAST), per(s.relsIndexes),
		per(s.eventsHeap+s.eventsTOAST+s.eventsIndexes+s.relsHeap+s.relsTOAST+s.relsIndexes), per(s.wal))
}
