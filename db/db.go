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

// Upserted says what UpsertObjects did with one object.
type Upserted struct {
	ID string
	// Applied is true when the object's state was written: it was new, or at
	// least as new as the stored state.
	Applied bool
	// Tie is true when the stored state had the same state_at and was
	// written by another event: a tie the version rule cannot decide.
	Tie bool
}

// UpsertObjects writes rows to the resource table named table under the
// version rule (see queries/objects.sql). Each id must appear once.
func UpsertObjects(ctx context.Context, tx dbsqlc.DBTX, table string, rows ObjectRows) ([]Upserted, error) {
	upsert, ok := objectUpserts[table]
	if !ok {
		return nil, fmt.Errorf("no upsert for table %q: is it in events.Resources?", table)
	}
	out, err := upsert(ctx, tx, rows)
	if err != nil {
		return nil, fmt.Errorf("upsert %s: %w", table, err)
	}
	return out, nil
}

// MissingItems are complete nested lists, column by column: parent i's list
// as of StateAts[i] (written by event LastEventIds[i], "" when fetched) holds
// the KeptIds whose KeptParents entry is that parent. Each parent appears
// once in Parents. Its fields match the parameters of every generated
// <Table>MarkMissing query.
type MissingItems struct {
	Parents      []string
	StateAts     []time.Time
	LastEventIds []string
	KeptParents  []string
	KeptIds      []string
}

// MarkMissing marks deleted the items in table (a resource with a Parent)
// that their parent's complete list no longer holds, under the version rule.
func MarkMissing(ctx context.Context, tx dbsqlc.DBTX, table string, m MissingItems) error {
	mark, ok := objectMarkMissing[table]
	if !ok {
		return fmt.Errorf("no items table %q: is it a resource with a Parent?", table)
	}
	if err := mark(ctx, tx, m); err != nil {
		return fmt.Errorf("mark missing %s: %w", table, err)
	}
	return nil
}
