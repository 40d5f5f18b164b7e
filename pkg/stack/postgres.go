package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// PostgresBin is where Debian's PostgreSQL 15 keeps initdb and pg_ctl.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// Postgres is a PostgreSQL cluster of its own, made by initdb in a
// directory and run by pg_ctl on a free loopback port, with trust
// authentication for the role postgres. Stop and Start take it away and
// bring it back as an outage would.
type Postgres struct {
	bin, dir, logFile string
	port              int
	cred              *syscall.Credential
}

// StartPostgres initialises a cluster under dir and starts it. As root it
// runs the server as the user postgres, which PostgreSQL requires.
func StartPostgres(ctx context.Context, bin, dir string) (*Postgres, error) {
	if bin == "" {
		bin = PostgresBin
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	pg := &Postgres{bin: bin, dir: filepath.Join(dir, "pgdata"), logFile: filepath.Join(dir, "postgres.log"), port: port}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the user postgres to run PostgreSQL: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if err := pg.run(ctx, "initdb", "-D", pg.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, err
	}
	// The stores, not PostgreSQL, are under test: its own durability
	// (fsync) is off to spare the machine's two cores and disk.
	conf := fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\nmax_connections = 100\n", port, dir)
	f, err := os.OpenFile(filepath.Join(pg.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(conf)
	f.Close()
	if err != nil {
		return nil, err
	}
	return pg, pg.Start(ctx)
}

// URL is the URL of database name as the role postgres.
func (pg *Postgres) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, name)
}

// CreateDatabase creates database name (createdb), owned by the role
// postgres.
func (pg *Postgres) CreateDatabase(ctx context.Context, name string) error {
	return pg.run(ctx, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.port), "-U", "postgres", name)
}

// Start starts the server (pg_ctl start -w).
func (pg *Postgres) Start(ctx context.Context) error {
	return pg.run(ctx, "pg_ctl", "-D", pg.dir, "-l", pg.logFile, "-w", "-t", "60", "start")
}

// Stop stops the server with mode ("fast": disconnect everyone, as in an
// outage; "immediate": a crash).
func (pg *Postgres) Stop(ctx context.Context, mode string) error {
	return pg.run(ctx, "pg_ctl", "-D", pg.dir, "-m", mode, "-w", "stop")
}

func (pg *Postgres) run(ctx context.Context, tool string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(pg.bin, tool), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", tool, err, out)
	}
	return nil
}
