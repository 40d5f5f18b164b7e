package stripesync

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
)

func TestEnsureDatabase(t *testing.T) {
	t.Parallel()
	name := "test_stripesync_" + strings.ToLower(rand.Text()[:10])
	u, err := url.Parse(dbtest.AdminURL())
	require.NoError(t, err)
	u.Path = "/" + name
	t.Cleanup(func() {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, dbtest.AdminURL())
		require.NoError(t, err)
		defer admin.Close(ctx)
		_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		require.NoError(t, err)
	})

	created, err := ensureDatabase(t.Context(), u.String())
	require.NoError(t, err)
	require.True(t, created, "a missing database is created")
	created, err = ensureDatabase(t.Context(), u.String())
	require.NoError(t, err)
	require.False(t, created, "an existing one is kept")
}
