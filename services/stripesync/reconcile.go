package stripesync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/services/syncer"
)

// reconcileCmd is stripesync reconcile: the syncer's reconciling backfill,
// in this process (syncer reconcile, with its flags and settings), then a
// wait, read-only, until the processor has applied every listing it
// completed and retrieved the rows they did not return, and a table of
// the outcome. The mirror's database is DATABASE_URL (the processor's,
// which must be applying the stream).
func reconcileCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		fmt.Fprintln(stdout, reconcileAbout)
		// The syncer's own help follows: its flags, and their variables.
		_, err := syncer.Reconcile(ctx, []string{"-h"}, getenv, stdout)
		return err
	}
	dbURL, wait, args, err := reconcileFlags(args, getenv)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	out, err := syncer.Reconcile(ctx, args, getenv, stdout)
	if err != nil {
		return err
	}
	recs, err := awaitReconciled(ctx, pool, out, wait)
	printReconciliations(stdout, recs)
	return err
}

const reconcileAbout = `stripesync reconcile lists resources completely, as syncer reconcile does, in this process, then waits until the
processor has reconciled the mirror against the listing (marked deleted the rows Stripe no longer has) and prints the
outcome per relation and account.

usage: stripesync reconcile [-database-url URL] [-wait 15m] [syncer reconcile flags]

flags of its own:
  -database-url string
    	PostgreSQL URL of the mirror, which it only reads (env DATABASE_URL)
  -wait duration
    	how long to wait for the processor (default 15m0s)

and those of syncer reconcile:`

// reconcileFlags takes stripesync's own flags, -database-url and -wait,
// out of args, and leaves the syncer's.
func reconcileFlags(args []string, getenv func(string) string) (dbURL string, wait time.Duration, rest []string, err error) {
	dbURL, wait = getenv("DATABASE_URL"), 15*time.Minute
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || (name != "database-url" && name != "wait") {
			rest = append(rest, args[i])
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return "", 0, nil, fmt.Errorf("config: -%s needs a value", name)
			}
			i++
			value = args[i]
		}
		if name == "database-url" {
			dbURL = value
		} else if wait, err = time.ParseDuration(value); err != nil || wait <= 0 {
			return "", 0, nil, fmt.Errorf("config: -wait: a positive duration, have %q", value)
		}
	}
	if dbURL == "" {
		return "", 0, nil, errors.New("config: stripesync reconcile needs DATABASE_URL (-database-url): it waits for the processor to reconcile the mirror, and reads the outcome")
	}
	return dbURL, wait, rest, nil
}

// awaitReconciled waits up to wait until the processor has completed the
// out.Listings listings of out.Listing and retrieved every row they did not
// return, and returns their reconciliations.
func awaitReconciled(ctx context.Context, pool *pgxpool.Pool, out syncer.Reconciled, wait time.Duration) ([]db.Reconciliation, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		all, err := db.Reconciliations(ctx, pool)
		var recs []db.Reconciliation
		var waiting int64
		for _, r := range all {
			if r.Listing == out.Listing && !r.CompletedAt.IsZero() {
				recs = append(recs, r)
				waiting += r.Waiting
			}
		}
		if err == nil && len(recs) >= out.Listings && waiting == 0 {
			return recs, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("after %s, %d of %d listings of %s reconciled, %d rows still to retrieve: is the processor applying the stream, with STRIPE_API_KEY?",
					wait, len(recs), out.Listings, out.Listing, waiting)
			}
			return recs, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// printReconciliations writes one line per relation and account.
func printReconciliations(w io.Writer, recs []db.Reconciliation) {
	recs = slices.Clone(recs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "relation\taccount\tlisted\tmirror\tdigests\tunlisted\tmarked deleted\twaiting")
	for _, r := range recs {
		account, digests := r.Account, "agree"
		if account == "" {
			account = "platform"
		}
		if r.API != r.Mirror {
			digests = "differ"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\n", r.Resource.Relation(), account, r.API.Objects, r.Mirror.Objects,
			digests, r.Unlisted, r.MarkedDeleted, r.Waiting)
	}
	_ = tw.Flush()
}
