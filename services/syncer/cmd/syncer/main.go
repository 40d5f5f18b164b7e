// Command syncer backfills the mirror from the Stripe API and catches up on
// missed events from Stripe's Events API. Everything it fetches goes through
// the stream to the processor, the mirror's only writer. See package syncer.
//
//	syncer serve                                   backfills on a schedule and on request, events catch-up every few minutes
//	syncer backfill [-resources a,b] [-account acct_…] [-since 2024-01-01|72h]
//	syncer events [-since 24h] [-failed] [-type 'invoice.*'] [-ids evt_…,evt_…] [-account acct_…]
//	syncer request [-resources a,b] [-account acct_…] [-since …]   asks a running syncer for a backfill
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stripesync/stripesync/services/syncer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := syncer.Run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "syncer:", err)
		os.Exit(1)
	}
}
