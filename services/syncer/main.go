// Command syncer will backfill the mirror from the Stripe API and catch up on
// missed events from Stripe's Events API (issue #3). Until then it only
// states that, so the workspace, the Makefile and the images build it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "syncer:", err)
		os.Exit(1)
	}
}

var errNotYet = errors.New("backfills and the Events API catch-up are not built yet (issue #3)")

func run(_ context.Context, _ []string, _ func(string) string, _ io.Writer) error {
	return errNotYet
}
