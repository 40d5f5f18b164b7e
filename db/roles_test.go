package db_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
)

// requireDenied asserts that err is PostgreSQL's insufficient_privilege.
func requireDenied(t *testing.T, err error, what string) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "%s: want permission denied, have %v", what, err)
	require.Equal(t, "42501", pgErr.Code, "%s: %v", what, err)
}

func TestRoles(t *testing.T) {
	t.Parallel()

	t.Run("OwnerMigratedAndWritesOnlyItsSchema", func(t *testing.T) {
		t.Parallel()
		r := dbtest.NewRoles(t)
		ctx := t.Context()
		owner := dbtest.Pool(t, r.OwnerURL)

		var super, createDB, createRole bool
		require.NoError(t, owner.QueryRow(ctx, "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user").
			Scan(&super, &createDB, &createRole))
		require.False(t, super || createDB || createRole, "the owner is a plain role")
		var schemaOwner string
		require.NoError(t, owner.QueryRow(ctx, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'stripe'").Scan(&schemaOwner))
		require.Equal(t, r.Owner, schemaOwner)

		_, err := db.InsertEvents(ctx, owner, []db.Event{{ID: "evt_1", Type: "customer.created", Created: time.Now(), Data: []byte(`{"id":"evt_1"}`)}})
		require.NoError(t, err)
		require.NoError(t, db.Migrate(ctx, owner), "a second start as the owner")

		// Another schema of the same database, and schema public.
		admin := dbtest.Pool(t, r.AdminURL)
		_, err = admin.Exec(ctx, "CREATE SCHEMA other; CREATE TABLE other.t (id int); CREATE TABLE public.t (id int)")
		require.NoError(t, err)
		for _, stmt := range []string{
			"SELECT * FROM other.t",
			"CREATE TABLE other.mine (id int)",
			"SELECT * FROM public.t",
			"INSERT INTO public.t VALUES (1)",
			"CREATE TABLE public.mine (id int)",
			"CREATE DATABASE mine",
			"CREATE ROLE mine",
		} {
			_, err := owner.Exec(ctx, stmt)
			requireDenied(t, err, stmt)
		}
		// Another mirror in the cluster: PUBLIC may connect to it (the
		// default of every database roles.sql was not run on), but the
		// owner reads nothing of it.
		conn, err := pgx.Connect(ctx, withDatabase(t, r.OwnerURL, dbtest.NewURL(t)))
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "SELECT * FROM stripe.events")
		requireDenied(t, err, "another database's stripe.events")
	})

	t.Run("ReaderReadsEveryTableAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		r := dbtest.NewRoles(t)
		ctx := t.Context()
		reader := dbtest.Pool(t, r.ReaderURL)

		// roles.sql ran before the migrations: every table is readable
		// through the owner's default privileges.
		tables := stripeTables(t, dbtest.Pool(t, r.AdminURL))
		require.Greater(t, len(tables), 30)
		for _, table := range tables {
			_, err := reader.Exec(ctx, "SELECT * FROM stripe."+table+" LIMIT 1")
			require.NoError(t, err, table)
		}
		// And a table a later migration makes, as the owner.
		_, err := dbtest.Pool(t, r.OwnerURL).Exec(ctx, "CREATE TABLE stripe.later (id int)")
		require.NoError(t, err)
		_, err = reader.Exec(ctx, "SELECT * FROM stripe.later")
		require.NoError(t, err)

		for _, stmt := range []string{
			"INSERT INTO stripe.events (id, type, livemode, created, data) VALUES ('evt_1', 't', false, now(), '{}')",
			"UPDATE stripe.dead_letters SET replayed_at = now()",
			"DELETE FROM stripe.customers",
			"TRUNCATE stripe.later",
			"CREATE TABLE stripe.mine (id int)",
			"CREATE TABLE public.mine (id int)",
			"CREATE TEMP TABLE mine (id int)",
			"DROP TABLE stripe.later",
		} {
			_, err := reader.Exec(ctx, stmt)
			requireDenied(t, err, stmt)
		}
	})

	t.Run("AdoptsADatabaseMigratedByAnotherRole", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		suffix := fmt.Sprintf("%d", time.Now().UnixNano())
		owner, reader := "adopt_owner_"+suffix, "adopt_reader_"+suffix
		t.Cleanup(func() {
			if t.Failed() {
				return
			}
			admin, err := pgx.Connect(context.Background(), dbtest.AdminURL())
			require.NoError(t, err)
			defer admin.Close(context.Background())
			for _, role := range []string{owner, reader} {
				_, err := admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
				require.NoError(t, err)
			}
		})
		// Migrated by the admin, goose's versions where they were before
		// they moved into stripe.
		adminURL := dbtest.NewURL(t)
		admin := dbtest.Pool(t, adminURL)
		_, err := admin.Exec(ctx, "ALTER TABLE stripe.goose_db_version SET SCHEMA public")
		require.NoError(t, err)

		for range 2 { // idempotent
			require.NoError(t, dbtest.ApplyRoles(ctx, adminURL, owner, reader))
		}
		var unowned []string
		rows, err := admin.Query(ctx, `
			SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'stripe'::regnamespace AND c.relowner::regrole::text <> $1
			UNION ALL
			SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'stripe'::regnamespace AND p.proowner::regrole::text <> $1`, owner)
		require.NoError(t, err)
		for rows.Next() {
			var name string
			require.NoError(t, rows.Scan(&name))
			unowned = append(unowned, name)
		}
		require.NoError(t, rows.Err())
		require.Empty(t, unowned, "objects of schema stripe not handed to the owner")

		ownerPool := dbtest.Pool(t, withUser(t, adminURL, owner))
		require.NoError(t, db.Migrate(ctx, ownerPool), "the owner starts on the adopted database")
		_, err = db.InsertEvents(ctx, ownerPool, []db.Event{{ID: "evt_1", Type: "customer.created", Created: time.Now(), Data: []byte(`{"id":"evt_1"}`)}})
		require.NoError(t, err)
		var n int
		require.NoError(t, dbtest.Pool(t, withUser(t, adminURL, reader)).QueryRow(ctx, "SELECT count(*) FROM stripe.events").Scan(&n))
		require.Equal(t, 1, n)
	})
}

func stripeTables(t *testing.T, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), "SELECT tablename FROM pg_tables WHERE schemaname = 'stripe' ORDER BY 1")
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return tables
}

func withDatabase(t *testing.T, raw, databaseURL string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	d, err := url.Parse(databaseURL)
	require.NoError(t, err)
	u.Path = d.Path
	return u.String()
}

// withUser is raw as role user, without a password (the tests' server
// trusts local connections; roles made by ApplyRoles have none).
func withUser(t *testing.T, raw, user string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.User = url.User(user)
	require.False(t, strings.Contains(u.String(), "@@"))
	return u.String()
}
