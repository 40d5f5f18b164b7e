// Package status is stripesync status: what an operator needs to know about
// a running mirror, read from the stream, the processor's consumer, the
// syncer's state bucket and PostgreSQL's statistics, and what of it needs
// attention. It only reads: the command's database connections are
// read-only, and nothing is published or acknowledged.
//
// Gather builds a Report; WriteText and WriteJSON print it; Serve shows it
// as a web page that refreshes itself, with charts of the last minutes.
// Every figure is a count or a time. Identifiers (accounts, object ids)
// appear only in the command's own output, never on the page (see Redact).
package status

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/events"
)

// Report is the state of the mirror at one moment. Times are UTC; ages are
// as of At.
type Report struct {
	At time.Time `json:"at"`
	// Stream is nil when the stream does not exist (ingest never ran) or
	// could not be read (see Unavailable).
	Stream *Stream `json:"stream"`
	// Consumer is the processor's consumer; nil when it does not exist
	// (the processor never ran) or could not be read.
	Consumer *Consumer `json:"consumer"`
	// DeadLetters are the dead letters not replayed, by reason, the most
	// frequent first.
	DeadLetters []DeadLetters `json:"dead_letters"`
	// DeadLettersTotal is the sum of DeadLetters.
	DeadLettersTotal int64 `json:"dead_letters_total"`
	// PendingFetches are the objects waiting for a fetch from the API.
	PendingFetches PendingFetches `json:"pending_fetches"`
	// CatchUp is where the syncer's events catch-up stands.
	CatchUp CatchUp `json:"catch_up"`
	// Runs counts the backfill runs by state.
	Runs Runs `json:"runs"`
	// Backfills are the backfill runs with checkpoints in the state bucket:
	// in progress, or stopped and waiting to be resumed (a completed run
	// deletes its checkpoints).
	Backfills []Backfill `json:"backfills"`
	// APIBudget is the Stripe API budget used by the syncer and the
	// processor, from their usage records in the state bucket.
	APIBudget APIBudget `json:"api_budget"`
	// Relations are the rows of every catalog resource's relation, by
	// relation name, estimated from PostgreSQL's statistics
	// (db.EstimateRows).
	Relations []Relation `json:"relations"`
	// Reconciliations are the last reconciliation with Stripe of each
	// relation and account (stripe.reconciliations), by relation then
	// account.
	Reconciliations []Reconciliation `json:"reconciliations"`
	// EventsEstimated is the estimated number of rows of stripe.events.
	EventsEstimated int64 `json:"events_estimated"`
	// EventsStoredTotal counts the events ever stored in stripe.events
	// (since PostgreSQL's statistics were last reset): its growth is the
	// events/s the page charts.
	EventsStoredTotal int64 `json:"events_stored_total"`
	// Unavailable names each source that could not be read, with the
	// error; each also needs attention.
	Unavailable []string `json:"unavailable,omitempty"`
	// Thresholds decide what needs attention; Gather sets
	// DefaultThresholds.
	Thresholds Thresholds `json:"thresholds"`

	// busUnknown is true when the stream or the consumer could not be
	// read: their being nil then says nothing.
	busUnknown bool
}

// Reconciliation is the last reconciliation of one relation and account:
// what the complete listing returned beside the rows not marked deleted
// afterwards, each as a count and a digest of the ids (see README
// "Reconciliation").
type Reconciliation struct {
	Relation      string    `json:"relation"`
	Account       string    `json:"account"` // "" for the platform
	ListedAt      time.Time `json:"listed_at"`
	APIObjects    int64     `json:"api_objects"`
	APIDigest     uint64    `json:"api_digest"`
	MirrorObjects int64     `json:"mirror_objects"`
	MirrorDigest  uint64    `json:"mirror_digest"`
	// Agree is true when both counts and both digests are equal: the
	// mirror held the ids the listing returned, no more, no fewer.
	Agree         bool  `json:"agree"`
	Unlisted      int64 `json:"unlisted"` // live rows the listing did not return, queued for retrieval
	MarkedDeleted int64 `json:"marked_deleted"`
	Waiting       int64 `json:"waiting"` // of those, still to be retrieved
}

// Stream is the state of events.StreamName.
type Stream struct {
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	FirstSeq uint64 `json:"first_seq"`
	// LastSeq is the sequence of the last message stored: it grows by one
	// with every message, so its growth is the stream's messages/s.
	LastSeq uint64 `json:"last_seq"`
	// LostMessages are messages the server lost (file store corruption).
	LostMessages int `json:"lost_messages,omitempty"`
}

// Consumer is the state of the processor's consumer, events.ConsumerName.
type Consumer struct {
	// Pending are the messages not delivered yet (NumPending).
	Pending uint64 `json:"pending"`
	// AckPending are delivered and not acknowledged yet: being applied, or
	// held by a processor that died until AckWait passes.
	AckPending int `json:"ack_pending"`
	// Redelivered are the unacknowledged messages delivered more than once.
	Redelivered int `json:"redelivered"`
	// Waiting are the pull requests waiting: some processor is connected
	// when it is not 0.
	Waiting int `json:"waiting"`
	// AckFloor is the stream sequence below which every message is
	// acknowledged.
	AckFloor uint64 `json:"ack_floor"`
	// OldestUnacked is when the stream stored the first message not yet
	// acknowledged, the one after AckFloor; zero when every message is.
	OldestUnacked time.Time `json:"oldest_unacked,omitzero"`
	// OldestUnackedSeconds is its age in seconds.
	OldestUnackedSeconds float64 `json:"oldest_unacked_seconds"`
}

// DeadLetters are the dead letters of one reason.
type DeadLetters struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// PendingFetches are the objects of thin events waiting for their state
// to be fetched from the API.
type PendingFetches struct {
	Waiting int64 `json:"waiting"`
	// Oldest is the created time of the oldest event among them; zero when
	// none waits.
	Oldest time.Time `json:"oldest,omitzero"`
	// OldestSeconds is its age in seconds.
	OldestSeconds float64 `json:"oldest_seconds"`
}

// Relation is the estimated size of one resource's relation.
type Relation struct {
	Relation string `json:"relation"`
	Object   string `json:"object"`
	// RowsEstimated counts its rows, deleted objects included.
	RowsEstimated int64 `json:"rows_estimated"`
	// DeletedEstimated counts the rows marked deleted, as of the last
	// ANALYZE; -1 when unknown.
	DeletedEstimated int64 `json:"deleted_estimated"`
}

// Gather reads the report: the stream and the processor's consumer from js,
// the syncer's state from its bucket (events.StateBucket), and from tx the
// dead letters, the pending fetches and the relations' statistics. tx
// should be a read-only pool. NATS and PostgreSQL are read at once, so that
// one of them hanging does not starve the other; a source that cannot be
// read is named in Unavailable and the others are still read. Bound the
// whole with ctx.
func Gather(ctx context.Context, tx db.DBTX, js jetstream.JetStream) Report {
	r := Report{At: time.Now().UTC(), Thresholds: DefaultThresholds}
	var busErrs, dbErrs []string
	var wg sync.WaitGroup
	wg.Go(func() { busErrs = r.gatherBus(ctx, js) }) // the two write apart fields of r
	wg.Go(func() { dbErrs = r.gatherDB(ctx, tx) })
	wg.Wait()
	r.Unavailable = append(busErrs, dbErrs...)
	return r
}

// gatherBus reads the stream, the consumer and the state bucket, and
// returns what it could not read.
func (r *Report) gatherBus(ctx context.Context, js jetstream.JetStream) []string {
	if nc := js.Conn(); !nc.IsConnected() {
		r.busUnknown = true
		servers := nc.Servers()
		for i, s := range servers {
			servers[i] = redactURL(s)
		}
		reason := "not connected to " + strings.Join(servers, ", ")
		if err := nc.LastError(); err != nil {
			reason += ": " + err.Error()
		}
		return []string{"NATS: " + reason}
	}
	var out []string
	if err := r.gatherStream(ctx, js); err != nil {
		r.busUnknown = true
		out = append(out, "stream "+events.StreamName+": "+err.Error())
	}
	if err := r.gatherState(ctx, js); err != nil {
		out = append(out, "state bucket "+events.StateBucket+": "+err.Error())
	}
	return out
}

// gatherDB reads the dead letters, the pending fetches and the relations'
// statistics, and returns what it could not read. A database it cannot
// reach is reported once.
func (r *Report) gatherDB(ctx context.Context, tx db.DBTX) []string {
	var out []string
	failed := func(what string, err error) (stop bool) {
		if db.Unreachable(err) {
			out = append(out, "database: "+err.Error())
			return true
		}
		out = append(out, what+": "+err.Error())
		return ctx.Err() != nil
	}

	byReason, err := db.DeadLettersByReason(ctx, tx)
	if err != nil && failed("dead letters", err) {
		return out
	}
	for reason, n := range byReason {
		r.DeadLetters = append(r.DeadLetters, DeadLetters{Reason: reason, Count: n})
		r.DeadLettersTotal += n
	}
	slices.SortFunc(r.DeadLetters, func(a, b DeadLetters) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})

	waiting, oldest, err := db.PendingFetchStats(ctx, tx)
	if err != nil && failed("pending fetches", err) {
		return out
	}
	if err == nil && waiting > 0 {
		r.PendingFetches = PendingFetches{Waiting: waiting, Oldest: oldest.UTC(), OldestSeconds: r.age(oldest)}
	}

	recs, err := db.Reconciliations(ctx, tx)
	if err != nil && failed("reconciliations", err) {
		return out
	}
	for _, rec := range recs {
		r.Reconciliations = append(r.Reconciliations, Reconciliation{
			Relation: rec.Resource.Relation(), Account: rec.Account, ListedAt: rec.ListedAt.UTC(),
			APIObjects: rec.API.Objects, APIDigest: rec.API.Digest, MirrorObjects: rec.Mirror.Objects, MirrorDigest: rec.Mirror.Digest,
			Agree: rec.API == rec.Mirror, Unlisted: rec.Unlisted, MarkedDeleted: rec.MarkedDeleted, Waiting: rec.Waiting,
		})
	}

	est, err := db.EstimateRows(ctx, tx)
	if err != nil {
		failed("relations", err)
		return out
	}
	r.EventsEstimated, r.EventsStoredTotal = est.Events, est.EventsInserted
	for _, rr := range est.Relations {
		r.Relations = append(r.Relations, Relation{Relation: rr.Resource.Relation(), Object: rr.Resource.Object,
			RowsEstimated: rr.Rows, DeletedEstimated: rr.Deleted})
	}
	slices.SortFunc(r.Relations, func(a, b Relation) int { return cmp.Compare(a.Relation, b.Relation) })
	return out
}

// gatherStream reads the stream and the processor's consumer. Neither
// existing yet is not an error: the report says so through nil.
func (r *Report) gatherStream(ctx context.Context, js jetstream.JetStream) error {
	stream, err := js.Stream(ctx, events.StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st := stream.CachedInfo().State
	r.Stream = &Stream{Messages: st.Msgs, Bytes: st.Bytes, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq}
	if st.Lost != nil {
		r.Stream.LostMessages = len(st.Lost.Msgs)
	}

	cons, err := stream.Consumer(ctx, events.ConsumerName)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("consumer %s: %w", events.ConsumerName, err)
	}
	info := cons.CachedInfo()
	r.Consumer = &Consumer{Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered,
		Waiting: info.NumWaiting, AckFloor: info.AckFloor.Stream}
	lag, err := events.ReadLag(ctx, stream, info)
	if err != nil {
		return err
	}
	if !lag.OldestUnacked.IsZero() {
		r.Consumer.OldestUnacked = lag.OldestUnacked
		r.Consumer.OldestUnackedSeconds = r.age(lag.OldestUnacked)
	}
	return nil
}

// age is the seconds from t to r.At, never negative.
func (r *Report) age(t time.Time) float64 {
	return max(r.At.Sub(t).Seconds(), 0)
}

// WriteJSON writes r as one JSON object, with what needs attention under
// "attention".
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.withAttention())
}

type reportJSON struct {
	*Report
	Attention []string `json:"attention"`
}

func (r *Report) withAttention() reportJSON {
	att := r.Attention()
	if att == nil {
		att = []string{} // [] rather than null
	}
	return reportJSON{Report: r, Attention: att}
}

// Redact returns a copy of r without identifiers: no account ids, no task
// ids and no object ids, only counts, times and resource names. It is what
// the page shows.
func (r Report) Redact() Report {
	r.CatchUp.Accounts = nil
	r.Backfills = slices.Clone(r.Backfills)
	for i, b := range r.Backfills {
		b.PlannedAfter = ""
		b.Tasks = slices.Clone(b.Tasks)
		for j := range b.Tasks {
			b.Tasks[j].ID, b.Tasks[j].Account, b.Tasks[j].Cursor = "", "", ""
		}
		r.Backfills[i] = b
	}
	r.APIBudget.Processes = slices.Clone(r.APIBudget.Processes)
	r.DeadLetters = slices.Clone(r.DeadLetters)
	r.Relations = slices.Clone(r.Relations)
	r.Reconciliations = slices.Clone(r.Reconciliations)
	for i := range r.Reconciliations {
		r.Reconciliations[i].Account = ""
	}
	r.Unavailable = slices.Clone(r.Unavailable)
	return r
}

// redactURL hides the password of a URL, if it has one.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
