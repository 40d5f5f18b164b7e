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
		{addr: "127.0.0.1:" + DefaultHTTPPort, want: "127.0.0.1:" + DefaultHTTPPort},
		{addr: "localhost:9000", want: "localhost:9000"},
		{addr: "[::1]:" + DefaultHTTPPort, want: "[::1]:" + DefaultHTTPPort},
		{addr: ":" + DefaultHTTPPort, want: "127.0.0.1:" + DefaultHTTPPort},
		{addr: "9471", want: "127.0.0.1:9471"},
		{addr: "127.0.0.1", want: "127.0.0.1:" + DefaultHTTPPort},
		{addr: "0.0.0.0:" + DefaultHTTPPort},
		{addr: "10.1.2.3:" + DefaultHTTPPort},
		{addr: "status.example.com:" + DefaultHTTPPort},
		{addr: "0.0.0.0:" + DefaultHTTPPort, public: true, want: "0.0.0.0:" + DefaultHTTPPort},
		{addr: ":" + DefaultHTTPPort, public: true, want: ":" + DefaultHTTPPort},
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
