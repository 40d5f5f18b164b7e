package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// soak holds a steady rate of signed webhooks through the pipeline for a
// while, and reports freshness, every process's memory and the consumer's
// lag over time: as a table on out and as a PNG plot.
func soak(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench soak", flag.ContinueOnError)
	pipelineFlags(fs, &o)
	fs.IntVar(&o.steady.rate, "rate", 1000, "webhooks per second")
	fs.DurationVar(&o.steady.duration, "duration", 2*time.Minute, "how long the rate is held")
	window := fs.Duration("window", 10*time.Second, "time each row of the table covers")
	plotPath := fs.String("plot", "bench/out/soak.png", "where to write the plot")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *window <= 0 {
		return fmt.Errorf("-window must be positive, not %s", *window)
	}
	if err := o.steady.check(); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "stripesync-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	title := fmt.Sprintf("soak: %d webhooks/s for %s, %.0f%% thin, %d in flight", o.steady.rate, o.steady.duration, 100*o.steady.thinShare, o.steady.inFlight)
	fmt.Fprintf(out, "%s; stripe-mock fixtures of %d types; load average before: %s\n", title, len(mix), loadAverages())
	r, err := steady(ctx, o, work, "soak", o.steady)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "load average after: %s\n\n", loadAverages())
	r.table(out, *window)
	fmt.Fprintln(out)
	r.summary(out)
	if err := r.plot(*plotPath, title); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	fmt.Fprintf(out, "plot: %s\n", *plotPath)
	return nil
}

// loadAverages is the machine's load averages over 1, 5 and 15 minutes, as
// uptime prints them.
func loadAverages() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}
