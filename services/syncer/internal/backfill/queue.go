package backfill

import (
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/stripesync/stripesync/pkg/stripeapi"
)

// queue hands tasks to workers. The planner fills it up to a small limit
// and waits for room; a worker splitting its task pushes the new half past
// the limit, at the front, so that a worker never waits on the queue. It
// ends when the planner is done, no task is queued and none is running, or
// when it is stopped.
//
// Workers take the endpoints in turn (see take): Stripe limits each
// endpoint to a rate of its own (25 requests/s) beside the global one, so
// the global rate is used only when several endpoints are listed at once.
type queue struct {
	limit int

	mu      sync.Mutex
	cond    sync.Cond
	tasks   []*task
	running int
	busy    map[string]int // running tasks per endpoint
	idle    int            // workers waiting for a task
	planned bool           // the planner has pushed its last task
	stopped bool
}

func newQueue(limit int) *queue {
	q := &queue{limit: max(limit, 1), busy: map[string]int{}}
	q.cond.L = &q.mu
	return q
}

// endpoint is the endpoint most of t's requests count against at Stripe
// (stripeapi.Endpoint): its list's, or for a listing per parent the one
// that lists each parent's objects ("GET /v1/customers/{id}/tax_ids").
func (t *task) endpoint() string {
	path, _, _ := strings.Cut(t.res.List.Path, "?")
	return stripeapi.Endpoint(http.MethodGet, path)
}

// push queues t for the planner, waiting while the queue holds limit tasks.
// It returns false when the queue was stopped.
func (q *queue) push(t *task) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.tasks) >= q.limit && !q.stopped {
		q.cond.Wait()
	}
	if q.stopped {
		return false
	}
	q.tasks = append(q.tasks, t)
	q.cond.Broadcast()
	return true
}

// pushFront queues t at once, whatever the queue holds: resumed and split
// tasks.
func (q *queue) pushFront(t *task) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.tasks = append([]*task{t}, q.tasks...)
	q.cond.Broadcast()
}

// take waits for a task, and returns false once there will be none. It
// takes the first queued task of the endpoint with the fewest tasks
// running, so that a large resource split into many tasks does not take
// every worker while its endpoint's rate holds them back and the other
// endpoints wait.
func (q *queue) take() (*task, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.idle++
	for len(q.tasks) == 0 && !q.stopped && !(q.planned && q.running == 0) {
		q.cond.Wait()
	}
	q.idle--
	if q.stopped || len(q.tasks) == 0 {
		q.cond.Broadcast() // the other workers end too
		return nil, false
	}
	i, fewest := 0, -1
	for j, t := range q.tasks {
		if n := q.busy[t.endpoint()]; fewest < 0 || n < fewest {
			i, fewest = j, n
		}
	}
	t := q.tasks[i]
	q.tasks = slices.Delete(q.tasks, i, i+1)
	q.running++
	q.busy[t.endpoint()]++
	q.cond.Broadcast() // room for the planner
	return t, true
}

// finish says t, a task taken, is over.
func (q *queue) finish(t *task) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running--
	if e := t.endpoint(); q.busy[e] > 1 {
		q.busy[e]--
	} else {
		delete(q.busy, e)
	}
	q.cond.Broadcast()
}

// runningAt is the number of tasks of endpoint running.
func (q *queue) runningAt(endpoint string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.busy[endpoint]
}

// hungry reports whether a worker waits for a task with none queued: the
// moment to split a long one.
func (q *queue) hungry() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.idle > 0 && len(q.tasks) == 0 && !q.stopped
}

// planDone says the planner pushed its last task.
func (q *queue) planDone() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.planned = true
	q.cond.Broadcast()
}

// stop ends the queue at once: take and push return false.
func (q *queue) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopped = true
	q.cond.Broadcast()
}
