package backfill

import "sync"

// queue hands tasks to workers. The planner fills it up to a small limit
// and waits for room; a worker splitting its task pushes the new half past
// the limit, at the front, so that a worker never waits on the queue. It
// ends when the planner is done, no task is queued and none is running, or
// when it is stopped.
type queue struct {
	limit int

	mu      sync.Mutex
	cond    sync.Cond
	tasks   []*task
	running int
	idle    int  // workers waiting for a task
	planned bool // the planner has pushed its last task
	stopped bool
}

func newQueue(limit int) *queue {
	q := &queue{limit: max(limit, 1)}
	q.cond.L = &q.mu
	return q
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

// take waits for a task, and returns false once there will be none.
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
	t := q.tasks[0]
	q.tasks[0] = nil
	q.tasks = q.tasks[1:]
	q.running++
	q.cond.Broadcast() // room for the planner
	return t, true
}

// finish says a task taken is over.
func (q *queue) finish() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running--
	q.cond.Broadcast()
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
