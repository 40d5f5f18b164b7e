package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Program is what Start runs: a binary with arguments and environment
// (added to this process's own), its output appended to Dir/Name.log.
type Program struct {
	Name string
	Path string
	Args []string
	Env  []string
	Dir  string // where the log goes
	// Credential, when set, runs the program as another user (PostgreSQL
	// refuses to run as root).
	Credential *syscall.Credential
}

// Process is a started Program. Its peak resident memory is kept across
// its life: read from /proc while it runs, from the kernel's rusage once
// it has exited.
type Process struct {
	prog Program
	cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	peakKiB int64
	waitErr error
}

// Start runs p and returns at once; the process runs until it exits, is
// stopped or killed. It does not stop with a context: a suite decides when
// each of its processes ends.
func Start(p Program) (*Process, error) {
	log, err := os.OpenFile(filepath.Join(p.Dir, p.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = log, log
	// A process group of its own: a Ctrl-C of the suite reaches the suite,
	// which stops its processes in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.Credential}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", p.Name, err)
	}
	proc := &Process{prog: p, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		log.Close()
		proc.mu.Lock()
		proc.waitErr = err
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			proc.peakKiB = max(proc.peakKiB, ru.Maxrss) // KiB on Linux
		}
		proc.mu.Unlock()
		close(proc.done)
	}()
	go proc.sample()
	return proc, nil
}

// sample reads the peak resident memory once a second while the process
// runs: the rusage of an exited child covers it too, but only the ones
// waited for.
func (p *Process) sample() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		p.readPeak()
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
}

func (p *Process) readPeak() {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				p.mu.Lock()
				p.peakKiB = max(p.peakKiB, kib)
				p.mu.Unlock()
			}
			return
		}
	}
}

// Name is the program's name.
func (p *Process) Name() string { return p.prog.Name }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// PeakRSS is the most resident memory the process has held so far, in bytes.
func (p *Process) PeakRSS() int64 {
	p.readPeak()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peakKiB << 10
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its error (nil for
// exit status 0).
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Wait waits for the process to exit and returns its error.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		_, err := p.Exited()
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop sends SIGTERM and waits up to grace for the exit, then kills.
func (p *Process) Stop(grace time.Duration) {
	p.readPeak()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill sends SIGKILL and waits for the exit: the crash a suite injects.
func (p *Process) Kill() {
	p.readPeak()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Restart starts the same program again (after it exited) and returns the
// new process; the peak memory carries over.
func (p *Process) Restart() (*Process, error) {
	<-p.done
	np, err := Start(p.prog)
	if err != nil {
		return nil, err
	}
	np.mu.Lock()
	np.peakKiB = p.PeakRSS() >> 10
	np.mu.Unlock()
	return np, nil
}

// FreePort is a TCP port on 127.0.0.1 that nothing listened on a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr is FreePort as "127.0.0.1:port".
func FreeAddr() (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// WaitHTTP polls url until it answers 200, ctx ends or timeout passes.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", url, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitTCP polls addr until it accepts a connection, ctx ends or timeout
// passes.
func WaitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not accepting: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
