// Package db owns the mirror's SQL: the migrations that define schema stripe,
// the sqlc-generated queries over it (package dbsqlc), and the dispatch from
// a resource's table to its upsert.
package db

import (
	"context"
	"fmt"
	"time"

	"github.com/stripesync/stripesync/db/dbsqlc"
)

// queries is stateless: with emit_methods_with_db_argument every method takes
// the pool or a transaction.
var queries = dbsqlc.New()

// Queries returns the generated queries.
func Queries() *dbsqlc.Queries { return queries }

// ObjectRows are the objects of one table to upsert, column by column: the
// i-th element of every slice belongs to the i-th object. Its fields match the
// parameters of every generated <Table>Upsert query.
type ObjectRows struct {
	Ids          []string
	Accounts     []string // "" for the platform
	Livemodes    []bool
	Deleteds     []bool
	Datas        [][]byte
	StateAts     []time.Time
	LastEventIds []string // "" when the object was fetched from the API
	// Parents are the parent ids of nested-list items; only tables of
	// resources with a Parent read them.
	Parents []string
}

// UpsertObjects writes rows to the resource table named table under the
// version rule (see queries/objects.sql). Each id must appear once. It
// returns the ids whose new state has the same state_at as the state stored
// before, written by another event: a tie the version rule cannot decide.
func UpsertObjects(ctx context.Context, tx dbsqlc.DBTX, table string, rows ObjectRows) (ties []string, err error) {
	upsert, ok := objectUpserts[table]
	if !ok {
		return nil, fmt.Errorf("no upsert for table %q: is it in events.Resources?", table)
	}
	ties, err = upsert(ctx, tx, rows)
	if err != nil {
		return nil, fmt.Errorf("upsert %s: %w", table, err)
	}
	return ties, nil
}
