package stripesync

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/envflag"
	"github.com/stripesync/stripesync/services/stripesync/internal/replay"
)

const replayAbout = `stripesync replay puts dead letters back on the stream, after their cause is fixed.

usage: stripesync replay (-all | -reason TEXT | -ids 1,2,3) [flags]

Each dead letter not replayed yet that the selection names is published again
on its subject, with its headers, and marked replayed in stripe.dead_letters
(never deleted). The processor applies it as it would have: events once,
objects under the version rule.

It writes stripe.dead_letters: DATABASE_URL names the owner role of
db/roles.sql (the processor's); the read-only role cannot replay.`

func replayCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stripesync replay", flag.ContinueOnError)
	fs.SetOutput(stdout)
	b := envflag.New(fs)
	b.Describe(replayAbout)
	var databaseURL, natsURL string
	b.StringVar(&databaseURL, "database-url", DefaultDatabaseURL, "PostgreSQL URL of the mirror")
	b.StringVar(&natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS server with the stream")
	all := fs.Bool("all", false, "every dead letter not replayed yet")
	reason := fs.String("reason", "", "the dead letters whose reason contains this text")
	ids := fs.String("ids", "", "these dead letters, by id, comma separated")
	if err := b.Parse(args, getenv); err != nil {
		return err
	}
	var f db.DeadLetterFilter
	f.Reason = *reason
	for s := range strings.SplitSeq(*ids, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("-ids: %q is not a dead letter id", s)
		}
		f.IDs = append(f.IDs, id)
	}
	if !*all && f.Reason == "" && len(f.IDs) == 0 {
		return errors.New("say which dead letters: -all, -reason TEXT or -ids 1,2,3")
	}

	pool, err := openPool(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	nc, js, err := events.ConnectJetStream(natsURL, "stripesync-replay", slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := events.AwaitConnected(ctx, nc, natsURL, natsWait); err != nil {
		return err
	}
	res, err := replay.Run(ctx, pool, events.NewPublisher(js), f)
	for _, id := range res.Replayed {
		fmt.Fprintf(stdout, "replayed dead letter %d\n", id)
	}
	fmt.Fprintf(stdout, "%d dead letters replayed\n", len(res.Replayed))
	if err != nil {
		return err
	}
	return events.Drain(nc, 10*time.Second)
}
