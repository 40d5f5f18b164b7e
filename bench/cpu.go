package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// clockTick is the unit of /proc/<pid>/stat's CPU times: USER_HZ, 100 on
// every Linux build that Go supports (sysconf(_SC_CLK_TCK) would need cgo).
const clockTick = 10 * time.Millisecond

// cpuTime reads the CPU a process has used (user and system), and with
// reaped, what its children that exited and were waited for used too.
func cpuTime(pid int, reaped bool) (time.Duration, int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command, field 2, is in parentheses and may hold spaces: the
	// fields counted from 3 start after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ppid, _ := strconv.Atoi(f[1]) // field 4
	var ticks int64
	last := 13 // fields 14 utime and 15 stime
	if reaped {
		last = 15 // and 16 cutime, 17 cstime
	}
	for _, s := range f[11:last] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, ppid, nil
}

// cpuSnapshot is the CPU used so far by the pipeline's processes and by the
// whole PostgreSQL cluster: the postmaster (with the backends that exited)
// and every process it started, so background writers count as in the
// anchor's harness.
type cpuSnapshot struct {
	ingest, processor, nats, postgres time.Duration
}

func takeCPU(p *pipeline, postmaster int) (cpuSnapshot, error) {
	var s cpuSnapshot
	for _, x := range []struct {
		pr *proc
		to *time.Duration
	}{{p.ingest, &s.ingest}, {p.processor, &s.processor}, {p.nats, &s.nats}} {
		t, _, err := cpuTime(x.pr.cmd.Process.Pid, false)
		if err != nil {
			return s, err
		}
		*x.to = t
	}
	t, _, err := cpuTime(postmaster, true)
	if err != nil {
		return s, err
	}
	s.postgres = t
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		if t, ppid, err := cpuTime(pid, false); err == nil && ppid == postmaster {
			s.postgres += t
		}
	}
	return s, nil
}

// postmasterPID is the pid of the PostgreSQL server behind pool: the parent
// of a backend serving it (the server may be another machine's: then there
// is no such process here).
func postmasterPID(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var backend int
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0, err
	}
	_, ppid, err := cpuTime(backend, false)
	if err != nil {
		return 0, fmt.Errorf("PostgreSQL is not on this machine: %w", err)
	}
	return ppid, nil
}

// cpuPerEvent is the CPU per event of each process between two snapshots.
func cpuPerEvent(before, after cpuSnapshot, events int) string {
	per := func(a, b time.Duration) float64 { return float64(b-a) / float64(time.Millisecond) / float64(events) }
	return fmt.Sprintf("ingest %.3f, processor %.3f, nats-server %.3f, PostgreSQL %.3f (all its processes); sum %.3f",
		per(before.ingest, after.ingest), per(before.processor, after.processor), per(before.nats, after.nats),
		per(before.postgres, after.postgres),
		per(before.ingest+before.processor+before.nats+before.postgres, after.ingest+after.processor+after.nats+after.postgres))
}

// peakRSS is the peak resident memory (VmHWM) of the pipeline's processes.
func peakRSS(p *pipeline) string {
	var parts []string
	for _, x := range []struct {
		name string
		pr   *proc
	}{{"ingest", p.ingest}, {"processor", p.processor}, {"nats-server", p.nats}} {
		b, err := procMemory(x.pr.cmd.Process.Pid, "VmHWM")
		if err != nil {
			parts = append(parts, x.name+" ?")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.1f MiB", x.name, mib(b)))
	}
	return strings.Join(parts, ", ")
}
