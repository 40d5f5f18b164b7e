// Package stripesync is the stripesync command: the whole mirror in one
// process. Its command dev runs JetStream embedded, ingest, the processor
// and syncer serve against the local PostgreSQL, and, without a Stripe key,
// a fake Stripe account that keeps changing and sends its webhooks to
// ingest. cmd/stripesync is the binary.
package stripesync

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/stripesync/stripesync/services/stripesync/internal/status"
)

const usage = `stripesync runs the whole Stripe mirror in one process, for development and demos.

usage: stripesync <command> [flags]

commands:
  dev      JetStream embedded, the local PostgreSQL, ingest, processor and syncer;
           a fake Stripe account sending live webhooks unless STRIPE_API_KEY is set
  replay   dead letters back onto the stream, after a fix (all, by reason, by id)
  rebuild  derive relations again from the stored rows and events, after a rule changed
  verify   compare a sample of the mirror with the Stripe API; exit 2 on drift
  reconcile list resources completely; wait until the processor marked deleted the rows Stripe no longer has
  listen   forward a test-mode account's new events to the local ingest, signed
  endpoint create the Stripe webhook endpoint (or thin event destination) for ingest
  status   where the mirror stands: lag, dead letters, backfills, rows; -json, -http ADDR; exit 2 on trouble

"stripesync <command> -h" lists the command's flags and their environment variables.`

// Run runs the command that args name. Settings come from the command's
// flags over getenv; what it prints goes to stdout. For -h it prints the
// usage and returns an error wrapping flag.ErrHelp.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stdout, usage)
		return errors.New("a command is required")
	}
	switch cmd, args := args[0], args[1:]; cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return flag.ErrHelp
	case "dev":
		return dev(ctx, args, getenv, stdout)
	case "replay":
		return replayCmd(ctx, args, getenv, stdout)
	case "rebuild":
		return rebuildCmd(ctx, args, getenv, stdout)
	case "verify":
		return verifyCmd(ctx, args, getenv, stdout)
	case "listen":
		return listenCmd(ctx, args, getenv, stdout)
	case "endpoint":
		return endpointCmd(ctx, args, getenv, stdout)
	case "status":
		return status.Run(ctx, args, getenv, stdout, DefaultDatabaseURL)
	case "reconcile":
		return reconcileCmd(ctx, args, getenv, stdout)
	default:
		return fmt.Errorf("unknown command %q; stripesync -h lists them", cmd)
	}
}
