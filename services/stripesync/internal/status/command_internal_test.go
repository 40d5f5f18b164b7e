package status

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
)

func TestListenAddr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr   string
		public bool
		want   string // "" for refused
	}{
		{addr: "127.0.0.1:8090", want: "127.0.0.1:8090"},
		{addr: "localhost:9000", want: "localhost:9000"},
		{addr: "[::1]:8090", want: "[::1]:8090"},
		{addr: ":8090", want: "127.0.0.1:8090"},
		{addr: "8091", want: "127.0.0.1:8091"},
		{addr: "127.0.0.1", want: "127.0.0.1:8090"},
		{addr: "0.0.0.0:8090"},
		{addr: "10.1.2.3:8090"},
		{addr: "status.example.com:8090"},
		{addr: "0.0.0.0:8090", public: true, want: "0.0.0.0:8090"},
		{addr: ":8090", public: true, want: ":8090"},
	} {
		got, err := listenAddr(tt.addr, tt.public)
		if tt.want == "" {
			require.ErrorContains(t, err, "not a loopback address", tt.addr)
			continue
		}
		require.NoError(t, err, tt.addr)
		require.Equal(t, tt.want, got, tt.addr)
	}
}

func TestConnectReadOnly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, err := connectReadOnly(ctx, dbtest.NewURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM stripe.dead_letters").Scan(&n))
	_, err = pool.Exec(ctx, "DELETE FROM stripe.dead_letters")
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "%v", err)
	require.Equal(t, "25006", pgErr.Code, "read_only_sql_transaction")
}
