package ingest

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The ingest needs no database (README "Database roles"): it takes no
// DATABASE_URL, and no code of its binary can speak to PostgreSQL.
func TestNeedsNoDatabase(t *testing.T) {
	t.Parallel()
	err := Run(context.Background(), []string{"-database-url", "postgres://127.0.0.1/x"}, func(string) string { return "" }, io.Discard)
	require.ErrorContains(t, err, "flag provided but not defined: -database-url")

	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "./cmd/...").Output()
	require.NoError(t, err)
	for dep := range strings.Lines(string(out)) {
		for _, db := range []string{"github.com/jackc/pgx", "github.com/lib/pq", "github.com/stripesync/stripesync/db"} {
			require.False(t, strings.HasPrefix(dep, db), "the ingest's binary links %s", strings.TrimSpace(dep))
		}
	}
}
