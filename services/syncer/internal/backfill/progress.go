package backfill

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stripesync/stripesync/pkg/catalog"
)

// Progress counts the objects published per resource.
type Progress struct {
	mu     sync.Mutex
	counts map[*catalog.Resource]*atomic.Int64
}

// NewProgress returns an empty Progress.
func NewProgress() *Progress { return &Progress{counts: map[*catalog.Resource]*atomic.Int64{}} }

func (p *Progress) add(res *catalog.Resource, n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	c, ok := p.counts[res]
	if !ok {
		c = new(atomic.Int64)
		p.counts[res] = c
	}
	p.mu.Unlock()
	c.Add(n)
}

// Snapshot returns the counts so far, by resource.
func (p *Progress) Snapshot() map[*catalog.Resource]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[*catalog.Resource]int64, len(p.counts))
	for r, c := range p.counts {
		out[r] = c.Load()
	}
	return out
}

// Resources returns the resources counted so far, sorted by object name.
func (p *Progress) Resources() []*catalog.Resource {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*catalog.Resource, 0, len(p.counts))
	for r := range p.counts {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *catalog.Resource) int { return strings.Compare(a.Object, b.Object) })
	return out
}

// Total is the number of objects published so far.
func (p *Progress) Total() int64 {
	var n int64
	for _, c := range p.Snapshot() {
		n += c
	}
	return n
}
