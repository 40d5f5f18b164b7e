package stripesync

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/envflag"
	"github.com/stripesync/stripesync/services/processor/rebuild"
)

const rebuildAbout = `stripesync rebuild derives relations again from what the mirror stores.

usage: stripesync rebuild [flags] [relation ...]

After a rule changed (how nested items or embedded objects are read) or a
relation was damaged: the stored events about the objects of the relations
named (object or relation names; every relation when none) are applied
again in created order, then every row is written again as the state it
holds, so that its items and embedded objects are read from it again. Both
go through the processor's store under the version rule, so the pipeline
may keep running. First, the backfilled objects the stream still holds are
applied again (no stored event holds them). It prints, per relation, the rows rewritten, added and
marked deleted. It cannot bring back states never stored (events older
than stripe.events holds, objects only the API has: run a backfill), nor a
row marked deleted.

It writes the relations: DATABASE_URL names the owner role of
db/roles.sql (the processor's); the read-only role cannot rebuild.`

func rebuildCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stripesync rebuild", flag.ContinueOnError)
	fs.SetOutput(stdout)
	b := envflag.New(fs)
	b.Describe(rebuildAbout)
	b.AllowArgs()
	var databaseURL, natsURL string
	b.StringVar(&databaseURL, "database-url", DefaultDatabaseURL, "PostgreSQL URL of the mirror")
	b.StringVar(&natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS server with the stream, whose backfilled objects are applied again; empty: the stream is not read")
	batch := fs.Int("batch-size", rebuild.DefaultBatchSize, "events or rows written per transaction")
	if err := b.Parse(args, getenv); err != nil {
		return err
	}
	if *batch <= 0 {
		return fmt.Errorf("-batch-size must be at least 1, not %d", *batch)
	}
	var named []*catalog.Resource
	for _, name := range fs.Args() {
		res, err := catalog.Find(name)
		if err != nil {
			return err
		}
		named = append(named, res)
	}

	pool, err := openPool(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	opts := rebuild.Options{BatchSize: *batch}
	if natsURL != "" {
		nc, js, err := events.ConnectJetStream(natsURL, "stripesync-rebuild", slog.New(slog.DiscardHandler))
		if err != nil {
			return fmt.Errorf("%w (-nats-url '' rebuilds without the stream)", err)
		}
		defer nc.Close()
		if err := events.AwaitConnected(ctx, nc, natsURL, natsWait); err != nil {
			return fmt.Errorf("%w (-nats-url '' rebuilds without the stream)", err)
		}
		if opts.Stream, err = js.Stream(ctx, events.StreamName); err != nil {
			return fmt.Errorf("stream %s: %w", events.StreamName, err)
		}
	}
	rep, err := rebuild.Run(ctx, pool, named, opts)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	printRebuild(stdout, rep)
	return nil
}

func printRebuild(w io.Writer, rep rebuild.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "relation\trows\trewritten\tadded\tmarked deleted")
	var changed int
	for _, c := range rep.Changes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", c.Resource.Relation(), c.Rows, c.Rewritten, c.Added, c.Deleted)
		changed += c.Rewritten + c.Added + c.Deleted
	}
	tw.Flush()
	fmt.Fprintf(w, "%d relations read: %d objects of the stream and %d stored events applied again (%d messages skipped), %d rows written again, %d rows changed\n",
		len(rep.Changes), rep.Objects, rep.Events, rep.Skipped, rep.Rewritten, changed)
}
