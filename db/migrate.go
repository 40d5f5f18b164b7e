package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/stripesync/stripesync/db/internal/dbsqlc"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// Migrations are the goose migrations that define schema stripe, in order.
var Migrations = func() fs.FS {
	sub, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		panic(err)
	}
	return sub
}()

// VersionTable is where goose records the migrations applied: inside schema
// stripe, so that the role owning that schema needs no right on any other
// (see roles.sql). Databases migrated before it moved there keep
// public.goose_db_version until roles.sql moves it.
const VersionTable = "stripe.goose_db_version"

const legacyVersionTable = "public.goose_db_version"

// Migrate applies the migrations not applied yet. A PostgreSQL session lock
// serialises it, so processors that start together apply each migration
// once; goose takes no lock unless asked. It runs with the role that owns
// schema stripe (roles.sql), no superuser needed.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	table, err := versionTable(ctx, pool)
	if err != nil {
		return err
	}
	// Probe the lock every second (goose's default is every 5 s) for up to 5
	// minutes, so a processor that lost the race starts a second later.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, Migrations,
		goose.WithSessionLocker(locker), goose.WithTableName(table))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// versionTable is the table goose keeps its versions in: VersionTable, or
// the legacy one of a database that has it and not the other. It makes
// schema stripe when missing, since goose creates its table before the
// first migration runs. A schema that exists is left alone, so that the
// owner role needs CREATE on the database only for the first start.
func versionTable(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	exists := func(schema string) (bool, error) {
		ok, err := queries.TableExists(ctx, pool, dbsqlc.TableExistsParams{SchemaName: schema, TableName: "goose_db_version"})
		if err != nil {
			return false, fmt.Errorf("look up migration versions: %w", err)
		}
		return ok, nil
	}
	if ok, err := exists("stripe"); err != nil || ok {
		return VersionTable, err
	}
	if ok, err := exists("public"); err != nil || ok {
		return legacyVersionTable, err
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := queries.SchemaCreateLock(ctx, tx); err != nil {
			return err
		}
		ok, err := queries.SchemaExists(ctx, tx)
		if err != nil || ok {
			return err
		}
		return queries.SchemaCreate(ctx, tx)
	})
	if err != nil {
		return "", fmt.Errorf("create schema stripe: %w", err)
	}
	return VersionTable, nil
}
