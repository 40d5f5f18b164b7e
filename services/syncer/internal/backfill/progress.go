package backfill

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// Progress counts the objects published per resource.
type Progress struct {
	mu     sync.Mutex
	counts map[string]*atomic.Int64
}

// NewProgress returns an empty Progress.
func NewProgress() *Progress { return &Progress{counts: map[string]*atomic.Int64{}} }

func (p *Progress) add(table string, n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	c, ok := p.counts[table]
	if !ok {
		c = new(atomic.Int64)
		p.counts[table] = c
	}
	p.mu.Unlock()
	c.Add(n)
}

// Snapshot returns the counts so far, by resource.
func (p *Progress) Snapshot() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.counts))
	for k, c := range p.counts {
		out[k] = c.Load()
	}
	return out
}

// Tables returns the resources counted so far, sorted.
func (p *Progress) Tables() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(maps.Keys(p.counts))
}
