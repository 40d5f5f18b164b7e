package stripesync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripesync/stripesync/db"
)

// PostgreSQL error codes ensureDatabase handles.
const (
	codeInvalidCatalogName = "3D000" // the database does not exist
	codeDuplicateDatabase  = "42P04" // created meanwhile by someone else
)

// ensureDatabase creates the database of url when it does not exist, by
// connecting to database postgres on the same server as the same role. It
// reports whether it created it.
func ensureDatabase(ctx context.Context, url string) (created bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return false, db.ErrDatabaseURL
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return false, conn.Close(ctx)
	}
	if !isCode(err, codeInvalidCatalogName) {
		return false, fmt.Errorf("connect database: %w", err)
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return false, fmt.Errorf("connect database postgres to create %s: %w", cfg.Database, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize()); err != nil {
		if isCode(err, codeDuplicateDatabase) {
			return false, nil
		}
		return false, fmt.Errorf("create database %s: %w", cfg.Database, err)
	}
	return true, nil
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// openPool opens a pool on the mirror at url (db.PoolConfig). It connects
// lazily: an unreachable database fails the first statement, which names it.
func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := db.PoolConfig(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	return pool, nil
}
