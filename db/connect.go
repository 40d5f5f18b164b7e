package db

import (
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrDatabaseURL is what a DATABASE_URL that does not parse gets. It says no
// more, as pgx's own message may quote the password: its redaction is best
// effort (an unterminated quote in a keyword/value string shows it).
var ErrDatabaseURL = errors.New("DATABASE_URL parses neither as a PostgreSQL URL nor as keyword/value pairs")

// PoolConfig parses url, a PostgreSQL URL or keyword/value string, into the
// configuration of a pool on the mirror, whose connections encode batches
// as RegisterTypes says. Its only error is ErrDatabaseURL.
func PoolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, ErrDatabaseURL
	}
	cfg.AfterConnect = RegisterTypes
	return cfg, nil
}
