package events

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/events/envflag"
)

// BindStreamFlags registers the stream settings on b, writing into o, which
// holds the defaults. All services register the same flags, so one set of
// environment variables configures the stream wherever it is created.
func BindStreamFlags(b *envflag.Binder, o *StreamOptions) {
	b.IntVar(&o.Replicas, "nats-stream-replicas", o.Replicas, "replicas of the stream: 1, or 3 in a cluster")
	b.Func("nats-stream-storage", "stream storage: file or memory; default "+strings.ToLower(o.Storage.String()), func(s string) error {
		switch s {
		case "file":
			o.Storage = jetstream.FileStorage
		case "memory":
			o.Storage = jetstream.MemoryStorage
		default:
			return errors.New("must be file or memory")
		}
		return nil
	})
	b.DurationVar(&o.MaxAge, "nats-stream-max-age", o.MaxAge, "how long the stream keeps an event, processed or not; 0 is forever")
	b.Int64Var(&o.MaxBytes, "nats-stream-max-bytes", o.MaxBytes, "size limit of the stream, -1 for none; when full, ingest answers 503")
}

// Validate names the first setting that cannot work.
func (o StreamOptions) Validate() error {
	switch {
	case o.Replicas < 1 || o.Replicas > 5:
		return fmt.Errorf("NATS_STREAM_REPLICAS must be between 1 and 5, have %d", o.Replicas)
	case o.MaxAge < 0:
		return fmt.Errorf("NATS_STREAM_MAX_AGE must not be negative, have %s", o.MaxAge)
	case o.MaxBytes == 0 || o.MaxBytes < -1:
		return fmt.Errorf("NATS_STREAM_MAX_BYTES must be positive or -1, have %d", o.MaxBytes)
	}
	return nil
}
