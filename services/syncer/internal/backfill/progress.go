package backfill

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stripesync/stripesync/pkg/catalog"
)

// Progress counts the objects published per resource, and how much of the
// created ranges planned for it the run has covered.
//
// Stripe's lists carry no totals, so the share done is measured in time:
// a task lists [From, To) newest first, so once it has listed an object
// created at c it has covered [c, To). A resource's share is the covered
// seconds of its tasks over their planned seconds; resources listed
// without a created range count their tasks done instead.
type Progress struct {
	mu     sync.Mutex
	counts map[*catalog.Resource]*atomic.Int64
	spans  map[string]*span // by task id
}

// span is one task's created range as Progress sees it.
type span struct {
	res *catalog.Resource
	// lower and to bound the range [lower, to) in Unix seconds; to is 0
	// for a listing without a created range.
	lower, to int64
	covered   int64 // seconds of the range listed, from to down
	done      bool
}

// Coverage is how far a resource's listings got.
type Coverage struct {
	Planned int64 // seconds of created ranges planned
	Covered int64 // of which listed
	Tasks   int   // tasks planned
	Done    int   // of which finished
}

// Share is the fraction of the planned ranges covered, in [0, 1]; for
// listings without created ranges, the fraction of tasks done.
func (c Coverage) Share() float64 {
	switch {
	case c.Planned > 0:
		return min(float64(c.Covered)/float64(c.Planned), 1)
	case c.Tasks > 0:
		return float64(c.Done) / float64(c.Tasks)
	}
	return 0
}

// NewProgress returns an empty Progress.
func NewProgress() *Progress {
	return &Progress{counts: map[*catalog.Resource]*atomic.Int64{}, spans: map[string]*span{}}
}

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

// plan records t's range, or its new bounds after a split, keeping what
// it covered. A range starting at 0 starts at t.Floor (the account's
// creation), where objects start.
func (p *Progress) plan(t *task) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.spans[t.ID]
	if !ok {
		s = &span{res: t.res}
		p.spans[t.ID] = s
		if _, ok := p.counts[t.res]; !ok {
			p.counts[t.res] = new(atomic.Int64)
		}
	}
	s.lower, s.to = t.From, t.To
	if t.Floor > s.lower && t.Floor < s.to {
		s.lower = t.Floor
	}
	s.covered = min(s.covered, s.length())
	if t.Done {
		s.done, s.covered = true, s.length()
	}
}

// length is the span's planned seconds.
func (s *span) length() int64 { return max(s.to-s.lower, 0) }

// listed records that t's list has reached objects created at created;
// last says the list ended there.
func (p *Progress) listed(t *task, created int64, last bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.spans[t.ID]
	if !ok {
		return
	}
	if last {
		s.done, s.covered = true, s.length()
		return
	}
	if s.to != 0 && created > 0 {
		s.covered = max(s.covered, min(s.to-created, s.length()))
	}
}

// Coverage returns each resource's coverage so far.
func (p *Progress) Coverage() map[*catalog.Resource]Coverage {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[*catalog.Resource]Coverage{}
	for _, s := range p.spans {
		c := out[s.res]
		c.Tasks++
		if s.done {
			c.Done++
		}
		c.Planned += s.length()
		c.Covered += s.covered
		out[s.res] = c
	}
	return out
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

// Resources returns the resources counted or planned so far, sorted by
// object name.
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
