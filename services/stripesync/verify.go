package stripesync

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events/envflag"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

const verifyAbout = `stripesync verify compares a sample of the mirror with a fresh fetch from the Stripe API.

usage: stripesync verify [-sample N] [-json] [-metrics-file PATH] [flags]

For every resource the API retrieves by id, and every account (the platform
and each connected account), it draws N rows not marked deleted at random and
GETs each object, and it lists the newest page (100) of every resource listed
account-wide. It reports three kinds of drift:

  extra    the row is not deleted, but Stripe answers 404 or a deleted object
  stale    the row's data differs from Stripe's object (compared by value,
           key order aside): the mirror missed a change
  missing  an object of the newest page has no row at all

It prints a table (or JSON with -json), writes the counts in Prometheus text
format to -metrics-file (for node_exporter's textfile collector; nothing is
pushed), and exits 2 when it found drift, 1 when it could not check.
A stale row may be a change made after the mirror's last event that is still
on its way: run it again before acting. It only reads the mirror (read-only
transactions): the read-only role of db/roles.sql is enough.`

// Kinds of drift stripesync verify reports.
const (
	driftMissing = "missing"
	driftStale   = "stale"
	driftExtra   = "extra"
)

var driftKinds = []string{driftMissing, driftStale, driftExtra}

// drift is one object where the mirror and Stripe disagree.
type drift struct {
	Kind     string `json:"kind"`
	Relation string `json:"relation"`
	Account  string `json:"account"` // "" for the platform
	ID       string `json:"id"`
}

// checked counts what verify looked at in one relation of one account.
type checked struct {
	Relation string         `json:"relation"`
	Account  string         `json:"account"`
	Sampled  int            `json:"sampled"` // rows fetched by id
	Listed   int            `json:"listed"`  // objects of the newest page
	Drift    map[string]int `json:"drift"`   // by kind
}

type verifyReport struct {
	Checked []checked `json:"checked"`
	Drift   []drift   `json:"drift"`
}

// DriftError is what verify returns when it found drift; its ExitCode is 2.
type DriftError struct{ N int }

func (e DriftError) Error() string { return fmt.Sprintf("%d objects drifted from Stripe", e.N) }

// ExitCode is the process's exit status for the error.
func (DriftError) ExitCode() int { return 2 }

func verifyCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stripesync verify", flag.ContinueOnError)
	fs.SetOutput(stdout)
	b := envflag.New(fs)
	b.Describe(verifyAbout)
	var databaseURL string
	var api stripeapi.Config
	b.StringVar(&databaseURL, "database-url", DefaultDatabaseURL, "PostgreSQL URL of the mirror")
	stripeapi.BindFlags(b, &api, "to fetch the objects compared")
	sample := fs.Int("sample", 10, "rows per relation and account fetched by id")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	metricsFile := fs.String("metrics-file", "", "write the drift counts to this file in Prometheus text format")
	var rate float64
	b.Float64Var(&rate, "verify-rate-limit", 0, "API requests per second; 0 means 20 with a test key, 80 with a live one (Stripe allows 25 and 100, and the services need their share)")
	if err := b.Parse(args, getenv); err != nil {
		return err
	}
	if err := api.Validate(true); err != nil {
		return err
	}
	if *sample < 0 {
		return errors.New("-sample must not be negative")
	}
	pcfg, err := db.PoolConfig(databaseURL)
	if err != nil {
		return err
	}
	// verify only reads: with the read-only role of db/roles.sql, or any
	// other, its transactions are read-only.
	pcfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("connect database: %w", err)
	}
	defer pool.Close()

	switch {
	case rate < 0:
		return errors.New("VERIFY_RATE_LIMIT must not be negative")
	case rate > 0:
	case api.Livemode():
		rate = 80
	default:
		rate = 20
	}
	client := api.Client(stripeapi.NewLimiter(rate, 5), slog.New(slog.DiscardHandler))
	rep, err := verify(ctx, pool, client, *sample)
	if err != nil {
		return err
	}
	if *metricsFile != "" {
		if err := writeVerifyMetrics(*metricsFile, rep); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printVerify(stdout, rep)
	}
	if len(rep.Drift) > 0 {
		return DriftError{N: len(rep.Drift)}
	}
	return nil
}

// errPageDone stops a listing after its first page.
var errPageDone = errors.New("first page done")

// verify checks every relation of every account, 8 at a time.
func verify(ctx context.Context, pool *pgxpool.Pool, client *stripeapi.Client, sample int) (verifyReport, error) {
	connected, err := client.ConnectedAccounts(ctx)
	if err != nil {
		return verifyReport{}, err
	}
	accounts := append([]string{""}, connected...)
	var (
		mu  sync.Mutex
		rep verifyReport
	)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, res := range catalog.All() {
		if res.Retrieve == "" && (res.List == nil || res.List.Per != "") {
			continue // nothing to check it by
		}
		for _, account := range accounts {
			if account != "" && res.List != nil && res.List.PlatformOnly {
				continue
			}
			g.Go(func() error {
				c, d, err := verifyRelation(ctx, pool, client, res, account, sample)
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				rep.Checked = append(rep.Checked, c)
				rep.Drift = append(rep.Drift, d...)
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return verifyReport{}, err
	}
	slices.SortFunc(rep.Checked, func(a, b checked) int {
		return cmp.Or(cmp.Compare(a.Relation, b.Relation), cmp.Compare(a.Account, b.Account))
	})
	slices.SortFunc(rep.Drift, func(a, b drift) int {
		return cmp.Or(cmp.Compare(a.Relation, b.Relation), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
	})
	return rep, nil
}

func verifyRelation(ctx context.Context, pool *pgxpool.Pool, client *stripeapi.Client, res *catalog.Resource, account string, sample int) (checked, []drift, error) {
	c := checked{Relation: res.Relation(), Account: account, Drift: map[string]int{}}
	var out []drift
	add := func(kind, id string) {
		c.Drift[kind]++
		out = append(out, drift{Kind: kind, Relation: res.Relation(), Account: account, ID: id})
	}
	if res.Retrieve != "" && sample > 0 {
		rows, err := db.SampleObjects(ctx, pool, res, account, sample)
		if err != nil {
			return c, nil, err
		}
		for _, row := range rows {
			path, _ := res.RetrievePath(row.ID)
			c.Sampled++
			raw, _, err := client.Get(ctx, path, account)
			if se := (*stripe.Error)(nil); errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
				add(driftExtra, row.ID)
				continue
			} else if err != nil {
				return c, nil, err
			}
			var gone struct {
				Deleted bool `json:"deleted"`
			}
			if err := json.Unmarshal(raw, &gone); err != nil {
				return c, nil, fmt.Errorf("decode %s: %w", path, err)
			}
			switch same, err := sameJSON(raw, row.Data); {
			case err != nil:
				return c, nil, fmt.Errorf("compare %s %s: %w", res.Relation(), row.ID, err)
			case gone.Deleted:
				add(driftExtra, row.ID)
			case !same:
				add(driftStale, row.ID)
			}
		}
	}
	if res.List != nil && res.List.Per == "" {
		var ids []string
		err := client.List(ctx, res.List.Path, stripeapi.ListParams{Account: account, Filters: res.List.Filters},
			func(pg *stripeapi.Page, _ *form.Values) error {
				for _, it := range pg.Items {
					if it.Object == res.Object {
						ids = append(ids, it.ID)
					}
				}
				return errPageDone
			})
		if err != nil && !errors.Is(err, errPageDone) {
			return c, nil, err
		}
		c.Listed = len(ids)
		have, err := db.ExistingIDs(ctx, pool, res, ids)
		if err != nil {
			return c, nil, err
		}
		for _, id := range ids {
			if !have[id] {
				add(driftMissing, id)
			}
		}
	}
	return c, out, nil
}

// sameJSON reports whether a and b hold the same JSON value, whatever the
// order of their keys (PostgreSQL's jsonb reorders them).
func sameJSON(a, b []byte) (bool, error) {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return false, err
	}
	return reflect.DeepEqual(va, vb), nil
}

func accountLabel(account string) string { return cmp.Or(account, "platform") }

func printVerify(w io.Writer, rep verifyReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELATION\tACCOUNT\tSAMPLED\tLISTED\tMISSING\tSTALE\tEXTRA")
	for _, c := range rep.Checked {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", c.Relation, accountLabel(c.Account), c.Sampled, c.Listed,
			c.Drift[driftMissing], c.Drift[driftStale], c.Drift[driftExtra])
	}
	_ = tw.Flush()
	if len(rep.Drift) == 0 {
		fmt.Fprintln(w, "\nno drift")
		return
	}
	fmt.Fprintf(w, "\n%d objects drifted:\n", len(rep.Drift))
	for _, d := range rep.Drift {
		fmt.Fprintf(w, "  %-7s %s %s %s\n", d.Kind, d.Relation, accountLabel(d.Account), d.ID)
	}
}

// writeVerifyMetrics writes the report's counts to path in Prometheus text
// format, through a temporary file renamed over it so that a collector
// never reads half a file.
func writeVerifyMetrics(path string, rep verifyReport) error {
	var b bytes.Buffer
	b.WriteString("# HELP stripe_sync_verify_drift_objects Objects where the mirror and the Stripe API disagreed at the last stripesync verify, by kind (missing, stale, extra).\n")
	b.WriteString("# TYPE stripe_sync_verify_drift_objects gauge\n")
	for _, c := range rep.Checked {
		for _, k := range driftKinds {
			fmt.Fprintf(&b, "stripe_sync_verify_drift_objects{relation=%q,account=%q,kind=%q} %d\n", c.Relation, accountLabel(c.Account), k, c.Drift[k])
		}
	}
	b.WriteString("# HELP stripe_sync_verify_checked_objects Objects compared at the last stripesync verify: sampled rows fetched by id, and objects of the newest page listed.\n")
	b.WriteString("# TYPE stripe_sync_verify_checked_objects gauge\n")
	for _, c := range rep.Checked {
		fmt.Fprintf(&b, "stripe_sync_verify_checked_objects{relation=%q,account=%q,how=\"sampled\"} %d\n", c.Relation, accountLabel(c.Account), c.Sampled)
		fmt.Fprintf(&b, "stripe_sync_verify_checked_objects{relation=%q,account=%q,how=\"listed\"} %d\n", c.Relation, accountLabel(c.Account), c.Listed)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".verify-metrics-*")
	if err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("metrics file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	return nil
}
