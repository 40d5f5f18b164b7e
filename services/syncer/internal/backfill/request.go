package backfill

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
)

// Request is a backfill as the engine runs it: an events.SyncRequest whose
// resource names are resolved to the listed resources that yield them.
type Request struct {
	// Resources are the resources listed, each with a catalog Listing,
	// sorted by object name and never empty.
	Resources []*catalog.Resource
	// Account limits the run to one connected account; empty means the
	// platform and every connected account.
	Account string
	// Since limits the listings that filter by created to objects created
	// at or after it; the zero time means no limit.
	Since time.Time
}

// NewRequest resolves a sync request, from the command line or from NATS.
// It is the only conversion from names to resources.
func NewRequest(sr events.SyncRequest) (Request, error) {
	resources, err := Select(sr.Resources)
	if err != nil {
		return Request{}, err
	}
	return Request{Resources: resources, Account: strings.TrimSpace(sr.Account), Since: sr.Since}, nil
}

// Select returns the listed resources that backfill the named ones, sorted
// by object name: every listed resource when names is empty. A name is an
// object name ("checkout.session") or a relation ("checkout_sessions"); a
// resource without a listing of its own (invoice line items, discounts,
// cards) selects the resources whose listings yield it
// (catalog.Resource.ListedBy).
func Select(names []string) ([]*catalog.Resource, error) {
	var out []*catalog.Resource
	if len(names) == 0 {
		for _, r := range catalog.All() {
			if r.List != nil {
				out = append(out, r)
			}
		}
		return out, nil
	}
	for _, name := range names {
		r, err := catalog.Find(name)
		if err != nil {
			return nil, err
		}
		by := r.ListedBy()
		if len(by) == 0 {
			return nil, fmt.Errorf("resource %s: no listing yields it", r.Object)
		}
		for _, l := range by {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	slices.SortFunc(out, func(a, b *catalog.Resource) int { return strings.Compare(a.Object, b.Object) })
	return out, nil
}

// RunID names the run of r: the same request resumes the same run, however
// its resources were named.
func (r Request) RunID() string {
	names := make([]string, len(r.Resources))
	for i, res := range r.Resources {
		names[i] = res.Object
	}
	slices.Sort(names)
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%d", strings.Join(names, ","), r.Account, r.Since.Unix()))
	return hex.EncodeToString(h[:6])
}

// platformOnly reports whether every resource of r is listed on the
// platform only: then connected accounts need not be listed at all.
func (r Request) platformOnly() bool {
	return !slices.ContainsFunc(r.Resources, func(res *catalog.Resource) bool { return !res.List.PlatformOnly })
}
