package events

import (
	"cmp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SyncRequestSubject is where sync requests are sent (core NATS
// request-reply, outside the stream): a SyncRequest as JSON. A running
// syncer answers with a SyncReply once it has queued the run.
const SyncRequestSubject = "stripesync.sync.requests"

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

// SyncReply answers a SyncRequest: the run's id once it is queued, or why it
// was not.
type SyncReply struct {
	Run    string `json:"run,omitempty"`
	Queued bool   `json:"queued,omitempty"`
	Error  string `json:"error,omitempty"`
}

// StateBucket is the NATS key-value bucket holding the syncer's state. Its
// keys come in three families:
//
//   - BackfillTaskKey: one per task of a backfill run, its range and cursor.
//     A run that completes deletes its keys; one that fails or is killed
//     leaves them for the next run of the same request to resume.
//   - EventsCursorKey: one per account, the created time up to which the
//     Events API catch-up has published events.
//   - ThinEventsCursorKey: one per account, the same for thin events
//     (GET /v2/core/events), which are listed apart.
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
