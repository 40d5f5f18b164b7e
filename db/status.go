package db

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stripesync/stripesync/pkg/catalog"
)

// Unreachable reports whether err says that no connection to the database
// could be made, rather than that a statement failed: a reader of several
// verbs then stops after the first instead of reporting the same outage
// for each.
func Unreachable(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// RelationRows is PostgreSQL's estimate of the rows of one resource's
// relation, read from its statistics rather than counted: cheap at any size,
// and close once the table was analyzed (autovacuum does so as it grows).
type RelationRows struct {
	Resource *catalog.Resource
	// Rows is the estimated number of rows, deleted objects included
	// (pg_stat_user_tables.n_live_tup): current within a second or so of a
	// commit, exact after an ANALYZE of a small table.
	Rows int64
	// Deleted is the estimated number of rows marked deleted: Rows times
	// the share of deleted rows the last ANALYZE saw. -1 when unknown (the
	// relation was never analyzed, or holds a single row).
	Deleted int64
	// AnalyzedAt is the last ANALYZE of the relation, manual or by
	// autovacuum; zero when never.
	AnalyzedAt time.Time
}

// RowEstimates are the estimated sizes of the mirror's relations.
type RowEstimates struct {
	// Relations holds every catalog resource, in catalog order.
	Relations []RelationRows
	// Events is the estimated number of rows of stripe.events.
	Events int64
	// EventsInserted counts the events ever inserted into stripe.events
	// (since PostgreSQL's statistics were last reset): a counter whose
	// growth between two readings is the events stored meanwhile, but for
	// a month partition dropped by retention in between.
	EventsInserted int64
}

// EstimateRows reads the estimated sizes of the mirror's relations from
// PostgreSQL's statistics; it reads no table.
func EstimateRows(ctx context.Context, tx DBTX) (RowEstimates, error) {
	rows, err := queries.RelationStats(ctx, tx)
	if err != nil {
		return RowEstimates{}, fmt.Errorf("relation stats: %w", err)
	}
	var out RowEstimates
	byRelation := make(map[string]RelationRows, len(rows))
	for _, r := range rows {
		if r.Relation == "events" { // one row per month partition
			out.Events += r.LiveRows
			out.EventsInserted += r.Inserted
			continue
		}
		rr := RelationRows{Rows: r.LiveRows, Deleted: -1}
		if r.DeletedShare >= 0 {
			rr.Deleted = int64(math.Round(r.DeletedShare * float64(r.LiveRows)))
		}
		if r.AnalyzedUnix > 0 {
			sec, frac := math.Modf(r.AnalyzedUnix)
			rr.AnalyzedAt = time.Unix(int64(sec), int64(frac*1e9))
		}
		byRelation[r.Relation] = rr
	}
	for _, res := range catalog.All() {
		rr, ok := byRelation[res.Relation()]
		if !ok {
			rr = RelationRows{Deleted: -1}
		}
		rr.Resource = res
		out.Relations = append(out.Relations, rr)
	}
	return out, nil
}
