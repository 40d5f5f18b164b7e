package rebuild

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// reapplyObjects applies again the object messages (backfilled objects,
// which no stored event holds) that stream still holds, of the resources in
// want, up to the last message there when it starts. They go through
// store.Apply as the processor applied them, dated by their fetch time, so
// the version rule orders them with everything else: a row missing (an
// item of a list longer than its parent holds, lost) is written again, an
// older state changes nothing. Messages the processor could not apply
// (dead letters) are skipped again. It returns the objects applied and
// skipped.
func reapplyObjects(ctx context.Context, s *store.Store, stream jetstream.Stream, want map[*catalog.Resource]bool, batchSize int) (applied, skipped int, err error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("stream: %w", err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return 0, 0, nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.ObjectSubjectPrefix + ">"}})
	if err != nil {
		return 0, 0, fmt.Errorf("stream consumer: %w", err)
	}
	for {
		batch, err := cons.Fetch(batchSize, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return applied, skipped, fmt.Errorf("read stream: %w", err)
		}
		var objs []events.Object
		n, end := 0, false
		for m := range batch.Messages() {
			n++
			if meta, err := m.Metadata(); err == nil && meta.Sequence.Stream >= last {
				end = true
			}
			o, err := events.ParseObjectMsg(m.Subject(), m.Headers(), m.Data())
			switch {
			case err != nil:
				skipped++
			case want[o.Resource]:
				objs = append(objs, o)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return applied, skipped, fmt.Errorf("read stream: %w", err)
		}
		a, sk, err := applyObjects(ctx, s, objs)
		applied, skipped = applied+a, skipped+sk
		if err != nil {
			return applied, skipped, err
		}
		if n == 0 || end {
			return applied, skipped, nil
		}
	}
}

// applyObjects applies objs in one transaction; when the data of one of
// them cannot be stored, each alone, skipping those.
func applyObjects(ctx context.Context, s *store.Store, objs []events.Object) (applied, skipped int, err error) {
	if len(objs) == 0 {
		return 0, 0, nil
	}
	_, err = s.Apply(ctx, store.Batch{Objects: objs})
	if err == nil {
		return len(objs), 0, nil
	}
	if !store.IsPermanent(err) {
		return 0, 0, fmt.Errorf("apply objects again: %w", err)
	}
	for _, o := range objs {
		_, err := s.Apply(ctx, store.Batch{Objects: []events.Object{o}})
		switch {
		case err == nil:
			applied++
		case store.IsPermanent(err):
			skipped++
		default:
			return applied, skipped, fmt.Errorf("apply objects again: %w", err)
		}
	}
	return applied, skipped, nil
}
