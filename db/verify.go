package db

import (
	"context"
	"fmt"
	"time"

	"github.com/stripesync/stripesync/pkg/catalog"
)

// sampled has the fields of every generated <Relation>SampleRow.
type sampled struct {
	ID      string
	Data    []byte
	StateAt time.Time
}

// SampleObjects returns up to n objects of res held for account ("" for the
// platform) and not marked deleted, drawn at random: what stripesync verify
// compares with the API. Only ID, Account, Data and StateAt are set.
func SampleObjects(ctx context.Context, tx DBTX, res *catalog.Resource, account string, n int) ([]Object, error) {
	sample, ok := objectSamples[res.Relation()]
	if !ok {
		return nil, fmt.Errorf("no relation for %s: add its migration and run make generate", res.Object)
	}
	rows, err := sample(ctx, tx, account, n)
	if err != nil {
		return nil, fmt.Errorf("sample %s: %w", res.Relation(), err)
	}
	out := make([]Object, len(rows))
	for i, r := range rows {
		out[i] = Object{ID: r.ID, Account: account, Data: r.Data, StateAt: r.StateAt}
	}
	return out, nil
}

// ExistingIDs returns the set of ids that have a row in res's relation,
// deleted or not.
func ExistingIDs(ctx context.Context, tx DBTX, res *catalog.Resource, ids []string) (map[string]bool, error) {
	existing, ok := objectExisting[res.Relation()]
	if !ok {
		return nil, fmt.Errorf("no relation for %s: add its migration and run make generate", res.Object)
	}
	have, err := existing(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("existing %s: %w", res.Relation(), err)
	}
	out := make(map[string]bool, len(have))
	for _, id := range have {
		out[id] = true
	}
	return out, nil
}
