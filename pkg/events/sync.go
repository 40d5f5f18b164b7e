package events

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SyncRequest asks the syncer for a backfill.
type SyncRequest struct {
	// Resources are catalog names, by object (customer) or relation
	// (customers); empty means all.
	Resources []string `json:"resources,omitempty"`
	// Account limits the run to one connected account; empty means the
	// platform and every connected account.
	Account string `json:"account,omitempty"`
	// Since limits the run to objects created at or after it, for the
	// resources whose lists filter by created.
	Since time.Time `json:"since,omitzero"`
}

// SyncStream is the work-queue stream of the syncer fleet's jobs: backfill
// requests (SyncBackfillSubject, a SyncRequest as JSON) and events
// catch-ups (SyncCatchUpSubject, no body). A job stays in the stream until
// a syncer serve replica finishes it, so a request made while no replica
// runs waits, and one whose replica dies is taken over by another.
const SyncStream = "STRIPESYNC_SYNC"

const (
	// SyncBackfillSubject carries backfill requests.
	SyncBackfillSubject = "stripesync.sync.backfill"
	// SyncCatchUpSubject carries events catch-ups.
	SyncCatchUpSubject = "stripesync.sync.catchup"
)

// DefaultSyncDuplicates is the duplicate window of SyncStream when no
// schedule asks for a longer one: the longest slot of the default
// schedules (a backfill a day).
const DefaultSyncDuplicates = 24 * time.Hour

// SyncStreamConfig is the only definition of SyncStream. It is a work
// queue: a message is removed once a replica acknowledges it, and each
// subject has one consumer. duplicates is the window in which a message id
// is remembered; a scheduled job's id names its slot (SlotMsgID), so the
// window must cover the longest slot for the replicas' publications of a
// slot to make one job (at least DefaultSyncDuplicates).
func SyncStreamConfig(o StreamOptions, duplicates time.Duration) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        SyncStream,
		Description: "syncer jobs: backfill requests and events catch-ups, one at a time each",
		Subjects:    []string{SyncBackfillSubject, SyncCatchUpSubject},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     10_000, // a runaway client fills this, not the disk; a request past it is refused
		Storage:     o.Storage,
		Replicas:    o.Replicas,
		Duplicates:  max(duplicates, DefaultSyncDuplicates),
	}
}

// DeclareSyncStream creates SyncStream, or updates it to o and duplicates.
// syncer serve calls it at start, with the window its schedules need.
func DeclareSyncStream(ctx context.Context, js jetstream.JetStream, o StreamOptions, duplicates time.Duration) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, SyncStreamConfig(o, duplicates))
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", SyncStream, err)
	}
	return s, nil
}

// EnsureSyncStream creates SyncStream with o when it does not exist yet and
// otherwise leaves it as it is, so that a request made before any syncer
// serve ever ran waits in it.
func EnsureSyncStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, SyncStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, SyncStreamConfig(o, DefaultSyncDuplicates))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, SyncStream)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", SyncStream, err)
	}
	return s, nil
}

// PublishBackfill queues sr on SyncBackfillSubject with message id msgID
// ("" for none) and waits for the stream to store it. It reports whether
// the request is a duplicate (an id the stream stored within its window,
// another replica's publication of the same slot): a success that queues
// nothing.
func PublishBackfill(ctx context.Context, js jetstream.JetStream, sr SyncRequest, msgID string) (duplicate bool, err error) {
	body, err := json.Marshal(sr)
	if err != nil {
		return false, err
	}
	return publishJob(ctx, js, SyncBackfillSubject, body, msgID)
}

// PublishCatchUp queues an events catch-up with message id msgID, and
// reports whether it is a duplicate.
func PublishCatchUp(ctx context.Context, js jetstream.JetStream, msgID string) (duplicate bool, err error) {
	return publishJob(ctx, js, SyncCatchUpSubject, nil, msgID)
}

func publishJob(ctx context.Context, js jetstream.JetStream, subject string, body []byte, msgID string) (bool, error) {
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(SyncStream)}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ack, err := js.Publish(ctx, subject, body, opts...)
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrDuplicateInProcess {
		return true, nil // another replica's publication of the id is being stored
	}
	if err != nil {
		return false, fmt.Errorf("publish %s: %w", subject, err)
	}
	return ack.Duplicate, nil
}

// jsErrDuplicateInProcess is the error of a clustered stream to a message
// whose id another publication, not yet stored, carries.
const jsErrDuplicateInProcess jetstream.ErrorCode = 10158

// Consumers of SyncStream, one per subject, shared by every replica.
const (
	BackfillConsumer = "syncer-backfill"
	CatchUpConsumer  = "syncer-catchup"
)

// SyncJobAckWait is the default of how long a job stays with a replica
// that stopped answering (died, lost its connection) before another
// replica gets it. A working replica sends an in-progress ack every third
// of it.
const SyncJobAckWait = 30 * time.Second

// SyncConsumerConfig is the only definition of the consumer of subject
// (SyncBackfillSubject or SyncCatchUpSubject). MaxAckPending 1 makes the
// fleet run one job of the subject at a time, whichever replica takes it:
// so two replicas never backfill at once, and only the replica holding the
// job spends its share of the Stripe account's API budget (see the
// README's "One API budget"). MaxDeliver is unlimited: a replica that dies
// costs a delivery, and a job is given up only by the replica that ran it
// (recorded as failed in its SyncRunKey).
func SyncConsumerConfig(subject string, ackWait time.Duration) jetstream.ConsumerConfig {
	name := BackfillConsumer
	if subject == SyncCatchUpSubject {
		name = CatchUpConsumer
	}
	return jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "syncer serve replicas: one job at a time",
		FilterSubject: subject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 1,
	}
}

// SlotMsgID is the message id of the job of kind ("backfill", "catchup")
// scheduled for the slot starting at slot: every replica publishes the
// same id, and the stream keeps one.
func SlotMsgID(kind string, slot time.Time) string {
	return "slot." + kind + "." + slot.UTC().Format(time.RFC3339)
}

// RunState is where a backfill run stands.
type RunState string

const (
	RunQueued  RunState = "queued"
	RunRunning RunState = "running"
	RunDone    RunState = "done"
	RunFailed  RunState = "failed"
)

// SyncRun is the status record of a backfill run, the value of its
// SyncRunKey: written queued by whoever publishes the request, running by
// the replica that takes it (again by one that takes it over), done or
// failed when it ends.
type SyncRun struct {
	Run     string      `json:"run"`
	State   RunState    `json:"state"`
	Request SyncRequest `json:"request"`
	// Replica is the syncer serve instance that last took the run.
	Replica    string    `json:"replica,omitempty"`
	Deliveries uint64    `json:"deliveries,omitempty"`
	QueuedAt   time.Time `json:"queued_at,omitzero"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Error      string    `json:"error,omitempty"`
}

// StateBucket is the NATS key-value bucket holding the syncer's state. Its
// keys come in these families:
//
//   - BackfillTaskKey: one per task of a backfill run, its range and cursor.
//     A run that completes deletes its keys; one that fails or is killed
//     leaves them for the next run of the same request to resume.
//   - EventsCursorKey: one per account, the created time up to which the
//     Events API catch-up has published events.
//   - ThinEventsCursorKey: one per account, the same for thin events
//     (GET /v2/core/events), which are listed apart.
//   - EventsRotationKey: the connected account after which the next
//     catch-up starts, when one catch-up cannot visit every account.
//   - SyncRunKey: one per backfill run id, its SyncRun status record.
const StateBucket = "stripesync_backfill"

// StateBucketConfig is the only definition of the state bucket.
func StateBucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      StateBucket,
		Description: "syncer state: backfill checkpoints and events catch-up cursors",
		History:     1,
		Storage:     jetstream.FileStorage,
	}
}

// BackfillTaskKey is the key of task of backfill run. A task id may hold
// dots (a split task is named after the task it came from).
func BackfillTaskKey(run, task string) string { return run + "." + task }

// BackfillRunKeys is the filter matching every task key of run.
func BackfillRunKeys(run string) string { return run + ".>" }

// EventsCursorKey is the key of the events catch-up cursor of account (""
// for the platform).
func EventsCursorKey(account string) string {
	return "cursor.events." + cmp.Or(account, "platform")
}

// ThinEventsCursorKey is the key of the thin events catch-up cursor of
// account ("" for the platform).
func ThinEventsCursorKey(account string) string {
	return "cursor.thin_events." + cmp.Or(account, "platform")
}

// EventsRotationKey is the key of the catch-up's rotation cursor: the last
// connected account the previous catch-up visited.
const EventsRotationKey = "rotation.events"

// SyncRunPrefix starts every SyncRunKey.
const SyncRunPrefix = "syncrun."

// SyncRunKey is the key of the status record of backfill run.
func SyncRunKey(run string) string { return SyncRunPrefix + run }
