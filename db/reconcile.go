package db

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/stripesync/stripesync/db/internal/dbsqlc"
	"github.com/stripesync/stripesync/pkg/catalog"
)

// Scope is the accounts a reconciliation covers: every account (All), or
// one ("" for the platform).
type Scope struct {
	All     bool
	Account string
}

// UnlistedRow is a row a complete listing did not return.
type UnlistedRow struct {
	ID       string
	Account  string // "" for the platform
	Livemode bool
}

// Unlisted returns up to n rows of res in scope, not marked deleted and
// last written before before, whose id sorts after after, in id order.
// Every object a listing returns is written by the processor once it
// lands (a backfilled state, or the newer one the row already holds, is
// written again, and updated_at moves), so after a complete listing that
// started at before has landed, these are the rows it did not return.
func Unlisted(ctx context.Context, tx DBTX, res *catalog.Resource, s Scope, before time.Time, after string, n int) ([]UnlistedRow, error) {
	page, ok := objectUnlisted[res.Relation()]
	if !ok {
		return nil, fmt.Errorf("no relation for %s: add its migration and run make generate", res.Object)
	}
	rows, err := page(ctx, tx, s, before, after, n)
	if err != nil {
		return nil, fmt.Errorf("unlisted %s: %w", res.Relation(), err)
	}
	return rows, nil
}

// Digest is a set of ids in brief: how many, and the xor of their IDHash.
// Two sets with the same Digest are, but for a chance of 2^-48, the same.
type Digest struct {
	Objects int64
	Digest  uint64
}

// Add puts id in the set. An id added twice leaves it, and the count is
// one too high: a listing returns each object once.
func (d *Digest) Add(id string) {
	d.Objects++
	d.Digest ^= IDHash(id)
}

// IDHash is stripe.id_hash (migration 0013): the first 48 bits of the md5
// of id.
func IDHash(id string) uint64 {
	sum := md5.Sum([]byte(id))
	var b [8]byte
	copy(b[2:], sum[:6])
	return binary.BigEndian.Uint64(b[:])
}

// accountDigest has the fields of every generated <Relation>DigestRow.
type accountDigest struct {
	Account string
	Objects int64
	Digest  int64
}

// LiveDigests returns the Digest of the ids of res's rows not marked
// deleted, for each account in scope that has one ("" for the platform).
// It reads the relation once.
func LiveDigests(ctx context.Context, tx DBTX, res *catalog.Resource, s Scope) (map[string]Digest, error) {
	digests, ok := objectDigests[res.Relation()]
	if !ok {
		return nil, fmt.Errorf("no relation for %s: add its migration and run make generate", res.Object)
	}
	rows, err := digests(ctx, tx, s)
	if err != nil {
		return nil, fmt.Errorf("digest %s: %w", res.Relation(), err)
	}
	out := make(map[string]Digest, len(rows))
	for _, r := range rows {
		out[r.Account] = Digest{Objects: r.Objects, Digest: uint64(r.Digest)}
	}
	return out, nil
}

// Now is the database's clock, which writes updated_at.
func Now(ctx context.Context, tx DBTX) (time.Time, error) {
	now, err := queries.DatabaseNow(ctx, tx)
	if err != nil {
		return time.Time{}, fmt.Errorf("database clock: %w", err)
	}
	return now, nil
}

// Reconciliation is the outcome of reconciling one relation of one account
// with Stripe.
type Reconciliation struct {
	Resource *catalog.Resource
	Account  string // "" for the platform
	// ListedAt is when the listing started, by the database's clock.
	ListedAt   time.Time
	FinishedAt time.Time // set when read
	// API is what the listing returned, Mirror the live rows afterwards.
	API, Mirror Digest
	// Retrieved rows the listing did not return, of which MarkedDeleted
	// Stripe no longer has and Unchecked could not be retrieved.
	Retrieved, MarkedDeleted, Unchecked int64
}

// SaveReconciliations keeps each as the last reconciliation of its
// relation and account, unless a later listing's is kept already.
func SaveReconciliations(ctx context.Context, tx DBTX, recs []Reconciliation) error {
	var a dbsqlc.ReconciliationUpsertParams
	for _, r := range recs {
		a.Relations = append(a.Relations, r.Resource.Relation())
		a.Accounts = append(a.Accounts, r.Account)
		a.ListedAts = append(a.ListedAts, r.ListedAt)
		a.ApiObjects = append(a.ApiObjects, r.API.Objects)
		a.ApiDigests = append(a.ApiDigests, int64(r.API.Digest))
		a.MirrorObjects = append(a.MirrorObjects, r.Mirror.Objects)
		a.MirrorDigests = append(a.MirrorDigests, int64(r.Mirror.Digest))
		a.Retrieveds = append(a.Retrieveds, r.Retrieved)
		a.MarkedDeleteds = append(a.MarkedDeleteds, r.MarkedDeleted)
		a.Uncheckeds = append(a.Uncheckeds, r.Unchecked)
	}
	if err := queries.ReconciliationUpsert(ctx, tx, a); err != nil {
		return fmt.Errorf("save reconciliations: %w", err)
	}
	return nil
}

// Reconciliations returns the last reconciliation of every relation and
// account, by relation then account. A relation the catalog no longer
// knows is left out.
func Reconciliations(ctx context.Context, tx DBTX) ([]Reconciliation, error) {
	rows, err := queries.ReconciliationList(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("read reconciliations: %w", err)
	}
	out := make([]Reconciliation, 0, len(rows))
	for _, r := range rows {
		res, err := catalog.Find(r.Relation)
		if err != nil {
			continue
		}
		out = append(out, Reconciliation{
			Resource: res, Account: r.Account, ListedAt: r.ListedAt, FinishedAt: r.FinishedAt,
			API:       Digest{Objects: r.ApiObjects, Digest: uint64(r.ApiDigest)},
			Mirror:    Digest{Objects: r.MirrorObjects, Digest: uint64(r.MirrorDigest)},
			Retrieved: r.Retrieved, MarkedDeleted: r.MarkedDeleted, Unchecked: r.Unchecked,
		})
	}
	return out, nil
}
