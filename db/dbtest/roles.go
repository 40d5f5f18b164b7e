package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripesync/stripesync/db"
)

// Roles is a test database set up as db/roles.sql sets up the mirror's:
// schema stripe belongs to a role like the processor's, which ran the
// migrations, and a read-only role may only read it.
type Roles struct {
	// OwnerURL connects as the owner of schema stripe: the processor's,
	// replay's and rebuild's role.
	OwnerURL string
	// ReaderURL connects as the read-only role: status's and verify's.
	ReaderURL string
	// AdminURL connects to the same database as TEST_DATABASE_URL's role.
	AdminURL string
	// Owner and Reader are the two roles' names.
	Owner, Reader string
}

// NewRoles creates an empty database, runs db/roles.sql on it with roles of
// its own (roles are cluster-wide and tests run in parallel: each database
// has its own two, named after it), then the migrations as the owner. The
// database and its roles are dropped when the test passes, kept when it
// fails.
func NewRoles(t testing.TB) Roles {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("test_%x", randomBytes(t))
	r := Roles{Owner: name + "_owner", Reader: name + "_reader"}
	// Registered before the database's cleanup, so it runs after it: a role
	// cannot be dropped while a database holds its grants.
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		admin, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Errorf("dbtest: connect to drop roles: %v", err)
			return
		}
		defer admin.Close(ctx)
		for _, role := range []string{r.Owner, r.Reader} {
			if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
				t.Errorf("dbtest: drop role %s: %v", role, err)
			}
		}
	})
	r.AdminURL = createDatabase(t, name, "template0")
	if err := ApplyRoles(ctx, r.AdminURL, r.Owner, r.Reader); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	// A password each, in case TEST_DATABASE_URL's server asks for one.
	admin, err := pgx.Connect(ctx, r.AdminURL)
	if err != nil {
		t.Fatalf("dbtest: connect %s: %v", redact(r.AdminURL), err)
	}
	defer admin.Close(ctx)
	for _, u := range []struct {
		role string
		url  *string
	}{{r.Owner, &r.OwnerURL}, {r.Reader, &r.ReaderURL}} {
		password := fmt.Sprintf("%x", randomBytes(t))
		if _, err := admin.Exec(ctx, "ALTER ROLE "+pgx.Identifier{u.role}.Sanitize()+" PASSWORD "+quoteLiteral(password)); err != nil {
			t.Fatalf("dbtest: password of %s: %v", u.role, err)
		}
		*u.url = withUser(r.AdminURL, u.role, password)
	}

	owner, err := pgxpool.New(ctx, r.OwnerURL)
	if err != nil {
		t.Fatalf("dbtest: connect as owner: %v", err)
	}
	defer owner.Close()
	if err := db.Migrate(ctx, owner); err != nil {
		t.Fatalf("dbtest: migrate as %s: %v", r.Owner, err)
	}
	return r
}

// Pool connects to url until the test ends.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("dbtest: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// ApplyRoles runs db/roles.sql, as psql would with -v owner=… -v reader=…,
// on the database adminURL names, as adminURL's role (a superuser).
func ApplyRoles(ctx context.Context, adminURL, owner, reader string) error {
	var script strings.Builder
	for line := range strings.Lines(db.RolesSQL) {
		if strings.HasPrefix(line, `\`) {
			continue // psql's own commands: the defaults of the variables set below
		}
		script.WriteString(line)
	}
	sql := strings.NewReplacer(":'owner'", quoteLiteral(owner), ":'reader'", quoteLiteral(reader)).Replace(script.String())
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect %s: %w", redact(adminURL), err)
	}
	defer conn.Close(ctx)
	// Without arguments, Exec sends the script as one simple query: every
	// statement in it runs.
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("roles.sql: %w", err)
	}
	return nil
}

// withUser returns raw with its user and password replaced.
func withUser(raw, user, password string) string {
	u, _ := url.Parse(raw)
	u.User = url.UserPassword(user, password)
	return u.String()
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
