package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
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

// Migrate applies the migrations not applied yet. A PostgreSQL session lock
// serialises it, so processors that start together apply each migration
// once; goose takes no lock unless asked.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	// Probe the lock every second (goose's default is every 5 s) for up to 5
	// minutes, so a processor that lost the race starts a second later.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, Migrations, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
