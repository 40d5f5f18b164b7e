// Package dbtest gives each test a PostgreSQL database of its own, migrated
// to the current schema, the way pgtestdb does: the migrations run once into
// a template database named by a hash of them, and every test gets a clone.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripesync/stripesync/db"
)

// DefaultAdminURL is used when TEST_DATABASE_URL is not set: the PostgreSQL
// of the development and CI machines.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is the URL of a role that may create databases.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// New returns a pool on a fresh, migrated database that is dropped when the
// test passes and kept (its URL logged) when it fails.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := NewURL(t)
	// As the processor's pool: the tests write through the same encoders.
	cfg, err := db.PoolConfig(url)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("dbtest: connect: %v", err)
	}
	// Registered after NewURL's cleanup, so it runs first.
	t.Cleanup(pool.Close)
	return pool
}

// NewEmpty is New without the migrations: a database with nothing in it.
func NewEmpty(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), newDatabase(t, "template0"))
	if err != nil {
		t.Fatalf("dbtest: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewURL creates a fresh, migrated database like New and returns its URL,
// for code under test that opens its own connections.
func NewURL(t testing.TB) string {
	t.Helper()
	tmpl, err := template(context.Background())
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return newDatabase(t, tmpl)
}

// newDatabase creates a database from template tmpl and drops it when the
// test passes.
func newDatabase(t testing.TB, tmpl string) string {
	t.Helper()
	return createDatabase(t, fmt.Sprintf("test_%x", randomBytes(t)), tmpl)
}

// createDatabase creates database name from template tmpl and drops it when
// the test passes.
func createDatabase(t testing.TB, name, tmpl string) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("dbtest: connect %s: %v", redact(AdminURL()), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize()); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	url, err := withDatabase(AdminURL(), name)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dbtest: kept database %s for inspection", redact(url))
			return
		}
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Errorf("dbtest: connect to drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
		}
	})
	return url
}

var templateOnce struct {
	sync.Mutex
	name string
}

// template creates, once per process and once per schema across processes,
// a database holding the migrated schema.
func template(ctx context.Context) (string, error) {
	templateOnce.Lock()
	defer templateOnce.Unlock()
	if templateOnce.name != "" {
		return templateOnce.name, nil
	}
	hash, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "tmpl_stripesync_" + hash[:16]
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", redact(AdminURL()), err)
	}
	defer admin.Close(ctx)
	// Test binaries of several packages run at once: one of them builds the
	// template while the others wait on this lock.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", name); err != nil {
		return "", fmt.Errorf("lock template: %w", err)
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", name) //nolint:errcheck // the session ends with Close anyway

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up template: %w", err)
	}
	if !exists {
		if err := buildTemplate(ctx, admin, name); err != nil {
			return "", err
		}
	}
	templateOnce.name = name
	return name, nil
}

func buildTemplate(ctx context.Context, admin *pgx.Conn, name string) error {
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident); err != nil {
		return fmt.Errorf("drop half-built template: %w", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	url, err := withDatabase(AdminURL(), name)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("connect template: %w", err)
	}
	err = db.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" WITH is_template = true ALLOW_CONNECTIONS = false"); err != nil {
		return fmt.Errorf("mark template: %w", err)
	}
	return nil
}

func migrationsHash() (string, error) {
	h := sha256.New()
	// Where goose keeps its versions is part of what the template holds.
	fmt.Fprintf(h, "%s\x00", db.VersionTable)
	err := fs.WalkDir(db.Migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(db.Migrations, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// withDatabase returns the URL raw with its database replaced by name.
func withDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("TEST_DATABASE_URL must be a postgres:// URL, have %s", redact(raw))
	}
	u.Path = "/" + name
	return u.String(), nil
}

// redact hides a password, if the URL has one.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func randomBytes(t testing.TB) []byte {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
