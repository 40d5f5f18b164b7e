// Command prove is make prove: the faults-under-load suite over the real
// processes (see package suite), then, when the Makefile has a fuzz target,
// make fuzz, and one table of what was injected and what was found. It
// exits 1 when any count of loss, duplication or staleness is not 0.
//
//	go run ./prove/cmd/prove -mode quick   # CI: a few thousand events, every fault, about a minute
//	go run ./prove/cmd/prove -mode full    # 20,000+ events, PostgreSQL down 15 s, then make fuzz
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/stripesync/stripesync/prove/internal/suite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errCounts) {
			fmt.Fprintln(os.Stderr, "prove:", err)
		}
		os.Exit(1)
	}
}

var errCounts = errors.New("differences found")

var modes = map[string]suite.Options{
	"quick": {Events: 3000, Rate: 65, FakeCustomers: 20, Gap: 3 * time.Second, PGOutage: 5 * time.Second},
	"full":  {Events: 20500, Rate: 120, FakeCustomers: 40, Gap: 8 * time.Second, PGOutage: 15 * time.Second},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("prove", flag.ContinueOnError)
	mode := fs.String("mode", "quick", "quick (CI) or full")
	bin := fs.String("bin", "bin", "directory holding ingest, processor, syncer, fakestripe and nats-server (make prove builds them)")
	repo := fs.String("repo", ".", "repository root, where make fuzz runs (full mode)")
	fuzz := fs.Bool("fuzz", true, "full mode: run make fuzz when the Makefile has the target")
	keep := fs.Bool("keep", false, "keep the work directory (logs, stores) even when the run passed")
	seed := fs.Uint64("seed", 1, "seed of the event set")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o, ok := modes[*mode]
	if !ok {
		return fmt.Errorf("-mode must be quick or full, have %q", *mode)
	}
	o.Name, o.Bin, o.Seed, o.Log, o.KeepDir = *mode, *bin, *seed, stderr, *keep
	rep, err := suite.Run(ctx, o)
	if err != nil {
		if rep.Dir != "" {
			fmt.Fprintf(stderr, "prove: logs and stores kept in %s\n", rep.Dir)
		}
		return err
	}
	fuzzLine := "n/a"
	if *mode == "full" && *fuzz && hasTarget(filepath.Join(*repo, "Makefile"), "fuzz") {
		fmt.Fprintln(stderr, "prove: make fuzz")
		fuzzLine, err = runFuzz(ctx, *repo, stderr)
		if err != nil {
			return err
		}
	}
	printTable(stdout, o, rep, fuzzLine)
	if rep.Counts.Total() != 0 {
		for _, e := range rep.Counts.Examples {
			fmt.Fprintln(stderr, "  e.g.", e)
		}
		fmt.Fprintf(stderr, "prove: logs and stores kept in %s\n", rep.Dir)
		return errCounts
	}
	return nil
}

func printTable(w io.Writer, o suite.Options, rep suite.Report, fuzz string) {
	c := rep.Counts
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "make prove (%s), %s on %d CPUs\tcount\t\n", o.Name, rep.Elapsed.Round(time.Second), numCPU())
	fmt.Fprintf(tw, "events\t%d\tdistinct (%d thin); %d webhooks sent with duplicates, %d attempts retried; plus a backfill\n", rep.Distinct, rep.Thin, rep.Sends, rep.Retries)
	for _, f := range rep.Faults {
		d := f.Detail
		if !f.UnderLoad {
			d = strings.TrimPrefix(d+"; after the load had finished", "; ")
		}
		fmt.Fprintf(tw, "fault: %s\t%d\t%s\n", f.Name, f.Count, d)
	}
	fmt.Fprintf(tw, "leader kill: worst 2xx → row\t%s\tover the %d events accepted 10 s either side of the kill (whole run, every fault: %s); kill → first event accepted after it applied %s\n",
		secs(rep.LeaderWorst), rep.LeaderWindow, secs(rep.RunWorst), secs(rep.LeaderNext))
	for _, r := range []struct {
		name string
		n    int
	}{
		{"lost (events missing from stripe.events)", c.EventsLost},
		{"2xx but missing", c.AcceptedMissing},
		{"applied twice", c.AppliedTwice},
		{"stale overwrites", c.Stale},
		{"objects lost", c.ObjectsLost},
		{"objects in a wrong state", c.Wrong},
		{"events never sent but stored", c.Unexpected},
		{"dead letters", c.DeadLetters},
	} {
		fmt.Fprintf(tw, "%s\t%d\t\n", r.name, r.n)
	}
	fmt.Fprintf(tw, "fuzz executions\t\t%s\n", fuzz)
	var rss []string
	for _, r := range rep.PeakRSS {
		rss = append(rss, fmt.Sprintf("%s %d MiB", r.Name, r.Bytes>>20))
	}
	fmt.Fprintf(tw, "peak RSS\t\t%s\n", strings.Join(rss, ", "))
	tw.Flush()
}

func secs(d time.Duration) string {
	if d < 0 {
		return "not within a minute"
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return max(1, bytes.Count(b, []byte("\nprocessor"))+1)
}

// hasTarget reports whether the Makefile defines target.
func hasTarget(makefile, target string) bool {
	b, err := os.ReadFile(makefile)
	if err != nil {
		return false
	}
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(b)
}

// fuzzLine is the line make fuzz prints for each target: its name, its
// package directory, its executions and the time they took.
var fuzzLine = regexp.MustCompile(`^(Fuzz[A-Za-z0-9_]+)\s+\S+\s+(\d+) execs in (\S+)`)

// runFuzz runs make fuzz and reports the executions of each target, from
// the one line make fuzz prints per target.
func runFuzz(ctx context.Context, repo string, log io.Writer) (string, error) {
	cmd := exec.CommandContext(ctx, "make", "fuzz")
	cmd.Dir = repo
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, log), io.MultiWriter(&out, log)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("make fuzz: %w", err)
	}
	var parts []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if m := fuzzLine.FindStringSubmatch(sc.Text()); m != nil {
			parts = append(parts, fmt.Sprintf("%s %s in %s", m[1], m[2], m[3]))
		}
	}
	if len(parts) == 0 {
		return "make fuzz ran; no executions reported", nil
	}
	return strings.Join(parts, ", "), nil
}
