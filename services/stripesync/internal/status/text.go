package status

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stripesync/stripesync/pkg/events"
)

// WriteText writes r as a compact table for a terminal. Relations with no
// rows are counted, not listed. What needs attention is not in it: the
// command writes that to stderr.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", label, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(tw, "stripesync status at %s\n\n", r.At.Format(time.DateTime+" MST"))

	none := "none"
	if r.busUnknown {
		none = "unknown: NATS could not be read"
	}
	if s := r.Stream; s != nil {
		line("stream "+events.StreamName, "%s messages, %s, last seq %s", count(int64(s.Messages)), size(s.Bytes), count(int64(s.LastSeq)))
	} else {
		line("stream "+events.StreamName, "%s", none)
	}
	if c := r.Consumer; c != nil {
		oldest := "-"
		if !c.OldestUnacked.IsZero() {
			oldest = round(seconds(c.OldestUnackedSeconds)).String()
		}
		line("consumer "+events.ConsumerName, "%s pending, %s unacknowledged (%s redelivered), oldest unacknowledged %s, %d pulls waiting",
			count(int64(c.Pending)), count(int64(c.AckPending)), count(int64(c.Redelivered)), oldest, c.Waiting)
	} else {
		line("consumer "+events.ConsumerName, "%s", none)
	}

	line("dead letters", "%s not replayed", count(r.DeadLettersTotal))
	for _, d := range r.DeadLetters {
		line("", "%6s  %s", count(d.Count), d.Reason)
	}

	if p := r.PendingFetches; p.Waiting > 0 {
		line("pending fetches", "%s objects waiting, the oldest for %s", count(p.Waiting), round(seconds(p.OldestSeconds)))
	} else {
		line("pending fetches", "none")
	}

	if c := r.CatchUp; c.Cursors+c.ThinCursors > 0 {
		line("events catch-up", "%d accounts, oldest cursor %s (%s ago), newest %s; thin events %d accounts",
			c.Cursors, stamp(c.Oldest), round(seconds(c.OldestSeconds)), stamp(c.Newest), c.ThinCursors)
		for _, a := range c.Accounts {
			line("", "%-24s events %s  thin %s", a.Account, stamp(a.Events), stamp(a.ThinEvents))
		}
	} else {
		line("events catch-up", "no cursors")
	}

	line("backfill runs", "%d queued, %d running, %d done, %d failed", r.Runs.Queued, r.Runs.Running, r.Runs.Done, r.Runs.Failed)
	if len(r.Backfills) == 0 {
		line("backfills", "none in progress")
	}
	for _, b := range r.Backfills {
		planning := "planned"
		if !b.Planned {
			planning = "planning, after " + cmp.Or(b.PlannedAfter, "the platform")
		}
		line("backfill "+b.Run, "%s; %d tasks in flight, %s objects listed, until %s", planning, b.InFlight, count(b.Objects), stamp(b.Until))
		for _, g := range groupTasks(b.Tasks) {
			line("", "%-24s %-28s %3d %-5s %10s objects", g.account, g.resource, g.tasks, plural(g.tasks, "task"), count(g.objects))
		}
	}

	line("events", "%s rows (estimated)", count(r.EventsEstimated))
	line("relation", "rows (estimated)  deleted (at the last ANALYZE)")
	empty := 0
	for _, rel := range r.Relations {
		if rel.RowsEstimated == 0 {
			empty++
			continue
		}
		deleted := "?"
		if rel.DeletedEstimated >= 0 {
			deleted = count(rel.DeletedEstimated)
		}
		line("  "+rel.Relation, "%16s  %s", count(rel.RowsEstimated), deleted)
	}
	if empty > 0 {
		line("", "%d %s empty", empty, plural(empty, "relation"))
	}
	if len(r.Reconciliations) == 0 {
		line("reconciled", "never: a backfill without since, or stripesync reconcile")
	} else {
		line("reconciled", "accounts  differ  listed  mirror  marked deleted    waiting  last listed")
		for _, g := range groupReconciliations(r.Reconciliations) {
			line("  "+g.relation, "%8d  %6d  %6s  %6s  %14s  %9s  %s", g.accounts, g.differ, count(g.api), count(g.mirror),
				count(g.marked), count(g.waiting), stamp(g.last))
		}
	}
	writeBudget(line, r.APIBudget)
	return tw.Flush()
}

// reconciledRelation sums the reconciliations of one relation over its
// accounts: one line whatever the number of connected accounts.
type reconciledRelation struct {
	relation                     string
	accounts, differ             int
	api, mirror, marked, waiting int64
	last                         time.Time
}

func groupReconciliations(recs []Reconciliation) []reconciledRelation {
	var out []reconciledRelation
	for _, rec := range recs { // by relation, then account
		if len(out) == 0 || out[len(out)-1].relation != rec.Relation {
			out = append(out, reconciledRelation{relation: rec.Relation})
		}
		g := &out[len(out)-1]
		g.accounts++
		if !rec.Agree {
			g.differ++
		}
		g.api += rec.APIObjects
		g.mirror += rec.MirrorObjects
		g.marked += rec.MarkedDeleted
		g.waiting += rec.Waiting
		g.last = latest(g.last, rec.ListedAt)
	}
	return out
}

// writeBudget writes the API budget line, then a line per process.
func writeBudget(line func(label, format string, args ...any), b APIBudget) {
	if len(b.Processes) == 0 {
		line("API budget used", "no usage records (no syncer or processor with STRIPE_API_KEY running)")
		return
	}
	if b.Limit > 0 {
		line("API budget used", "%s of %s requests/s (%.0f%%), %s 429s in the last minute", perSecond(b.PerSecond), perSecond(b.Limit), 100*b.Share(), count(b.RateLimited))
	} else {
		line("API budget used", "unknown: every usage record is stale")
	}
	for _, p := range b.Processes {
		state := ""
		if p.Stale {
			state = fmt.Sprintf("  stale: written %s ago, not summed", round(seconds(p.AgeSeconds)))
		}
		line("", "%-9s %-28s %6s of %s requests/s, %s 429s%s", p.Service, p.Instance, perSecond(p.PerSecond), perSecond(p.Limit), count(p.RateLimited), state)
	}
}

// perSecond writes a rate with one decimal.
func perSecond(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// plural is word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// taskGroup is the tasks in flight of one account and resource: a task
// split in parts is one line.
type taskGroup struct {
	account, resource string
	tasks             int
	objects           int64
}

// groupTasks groups tasks, sorted by account and resource, into lines.
func groupTasks(tasks []Task) []taskGroup {
	var out []taskGroup
	for _, t := range tasks {
		if n := len(out); n > 0 && out[n-1].account == t.Account && out[n-1].resource == t.Resource {
			out[n-1].tasks++
			out[n-1].objects += t.Objects
			continue
		}
		out = append(out, taskGroup{account: t.Account, resource: t.Resource, tasks: 1, objects: t.Objects})
	}
	return out
}

// count writes n with thin groups of three digits: 12 480.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// size writes n in B, kB, MB or GB (powers of 1000).
func size(n uint64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	f, i := float64(n), 0
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + [...]string{"B", "kB", "MB", "GB"}[i]
}

// stamp is t to the second, or "-" when zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateTime)
}
