package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
)

// freshDatabase creates an empty, migrated database and returns its URL and a
// function that drops it.
func freshDatabase(ctx context.Context, adminURL, name string) (string, func(), error) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect admin: %w", err)
	}
	defer admin.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", nil, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		return "", nil, err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool); err != nil {
		return "", nil, err
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)") //nolint:errcheck // best effort at exit
	}
	return u.String(), drop, nil
}

// waitForConsumer polls the processor's consumer until it has acknowledged
// every message on the stream, and returns when it first saw that. The
// processor acknowledges only after its transaction commits. Polling NATS
// rather than counting rows keeps the measurement off PostgreSQL, which a
// count(*) every few milliseconds would slow down.
func waitForConsumer(ctx context.Context, natsURL string, timeout time.Duration) (time.Time, error) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return time.Time{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if c, err := js.Consumer(ctx, events.StreamName, events.ConsumerName); err == nil {
			if info, err := c.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0 {
				return time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("waiting for the processor: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// countEvents checks that every event reached stripe.events.
func countEvents(ctx context.Context, pool *pgxpool.Pool, want int) error {
	var have int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM stripe.events").Scan(&have); err != nil {
		return err
	}
	if have != want {
		return fmt.Errorf("stripe.events holds %d events, want %d", have, want)
	}
	return nil
}

// plainInsert is the processor's ceiling: the same rows written in batches of
// batchSize, one transaction each, with no broker, no decoding on the clock
// and no version rule: events with a plain INSERT, objects with a plain
// upsert (an object can recur).
func plainInsert(ctx context.Context, pool *pgxpool.Pool, evs []webhookEvent, batchSize, workers int) (time.Duration, error) {
	type objectRow struct {
		id, eventID, parent string
		data                []byte
		created             time.Time
	}
	type batch struct {
		ids, types []string
		createds   []time.Time
		datas      [][]byte
		objects    map[*catalog.Resource]map[string]objectRow // resource → id → row
	}
	var batches []batch
	for start := 0; start < len(evs); start += batchSize {
		b := batch{objects: map[*catalog.Resource]map[string]objectRow{}}
		for _, ev := range evs[start:min(start+batchSize, len(evs))] {
			env, err := events.ParseEnvelope(ev.body)
			if err != nil {
				return 0, err
			}
			b.ids = append(b.ids, env.ID)
			b.types = append(b.types, env.Type)
			b.createds = append(b.createds, env.Created)
			b.datas = append(b.datas, ev.body)
			ref, err := catalog.ParseRef(env.Object)
			if err != nil {
				return 0, err
			}
			res, ok := catalog.Lookup(ref.Object)
			if !ok {
				continue
			}
			add := func(res *catalog.Resource, o objectRow) {
				if b.objects[res] == nil {
					b.objects[res] = map[string]objectRow{}
				}
				b.objects[res][o.id] = o
			}
			add(res, objectRow{id: ref.ID, eventID: env.ID, data: env.Object, created: env.Created})
			// What it holds are rows too (the processor writes them: the
			// items of its nested lists with their parent, its embedded
			// objects).
			lists, embedded, err := res.Contents(env.Object)
			if err != nil {
				return 0, err
			}
			for _, e := range embedded {
				add(e.Resource, objectRow{id: e.Ref.ID, eventID: env.ID, data: e.Data, created: env.Created})
			}
			for _, l := range lists {
				for _, it := range l.Items {
					add(it.Resource, objectRow{id: it.Ref.ID, eventID: env.ID, data: it.Data, created: env.Created, parent: ref.ID})
				}
			}
		}
		batches = append(batches, b)
	}

	// As many connections at once as the processor has workers.
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, b := range batches {
		g.Go(func() error {
			return retryDeadlock(func() error {
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO stripe.events (id, type, livemode, created, data)
				SELECT unnest($1::text[]), unnest($2::text[]), false, unnest($3::timestamptz[]), unnest($4::json[])`,
						b.ids, b.types, b.createds, b.datas); err != nil {
						return fmt.Errorf("insert events: %w", err)
					}
					resources := slices.SortedFunc(maps.Keys(b.objects), func(a, b *catalog.Resource) int { return strings.Compare(a.Object, b.Object) })
					for _, res := range resources {
						// The ceiling writes its own plain SQL: it is what
						// db's version-rule queries are measured against.
						table := res.Relation()
						var ids, eventIDs, parents []string
						var datas [][]byte
						var createds []time.Time
						for _, o := range b.objects[res] {
							ids, eventIDs, datas, createds = append(ids, o.id), append(eventIDs, o.eventID), append(datas, o.data), append(createds, o.created)
							parents = append(parents, o.parent)
						}
						q := `INSERT INTO stripe.` + table + ` (id, livemode, data, state_at, last_event_id)
					SELECT unnest($1::text[]), false, unnest($2::jsonb[]), unnest($3::timestamptz[]), unnest($4::text[])
					ON CONFLICT (id) DO UPDATE SET data = excluded.data, state_at = excluded.state_at, last_event_id = excluded.last_event_id`
						args := []any{ids, datas, createds, eventIDs}
						if res.Parent != "" {
							q = `INSERT INTO stripe.` + table + ` (id, livemode, data, state_at, last_event_id, parent)
					SELECT unnest($1::text[]), false, unnest($2::jsonb[]), unnest($3::timestamptz[]), unnest($4::text[]), unnest($5::text[])
					ON CONFLICT (id) DO UPDATE SET data = excluded.data, state_at = excluded.state_at, last_event_id = excluded.last_event_id, parent = excluded.parent`
							args = append(args, parents)
						}
						if _, err := tx.Exec(ctx, q, args...); err != nil {
							return fmt.Errorf("insert %s: %w", table, err)
						}
					}
					return nil
				})
			})
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// retryDeadlock retries f when PostgreSQL broke a deadlock between two
// batches upserting the same objects (the processor retries those too).
func retryDeadlock(f func() error) error {
	for attempt := 0; ; attempt++ {
		err := f()
		var pgErr *pgconn.PgError
		if attempt < 5 && errors.As(err, &pgErr) && pgErr.Code == "40P01" {
			continue
		}
		return err
	}
}

// visibilityChannel is the channel the visibility trigger notifies.
const visibilityChannel = "bench_visible"

// installVisibilityTrigger makes every insert into stripe.events NOTIFY the
// event's id. PostgreSQL delivers a notification when its transaction
// commits, so a listener learns when each event became visible (the method
// of ../shared/freshness). The trigger is the benchmark's instrument, not
// the mirror's schema: it lives in the benchmark's own database only, which
// is dropped at the end.
func installVisibilityTrigger(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `
CREATE FUNCTION public.bench_notify_visible() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_notify('`+visibilityChannel+`', NEW.id); RETURN NULL; END $$;
CREATE TRIGGER bench_notify_visible AFTER INSERT ON stripe.events FOR EACH ROW EXECUTE FUNCTION public.bench_notify_visible();`)
	if err != nil {
		return fmt.Errorf("install the visibility trigger: %w", err)
	}
	return nil
}
