package status_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/stripesync/internal/status"
)

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("JSONAndExitStatus", func(t *testing.T) {
		t.Parallel()
		url := dbtest.NewURL(t)
		ns := eventstest.RunServer(t)
		env := map[string]string{"DATABASE_URL": url, "NATS_URL": ns.ClientURL()}
		var out bytes.Buffer
		err := status.Run(t.Context(), []string{"-json"}, func(k string) string { return env[k] }, &out, "postgres://unused")
		var att *status.AttentionError
		require.ErrorAs(t, err, &att, "no stream yet needs attention")
		require.Equal(t, status.ExitAttention, att.ExitCode())
		require.Equal(t, "needs attention:\n  - stream STRIPE does not exist: ingest has not run", err.Error())

		var got map[string]any
		require.NoError(t, json.Unmarshal(out.Bytes(), &got), out.String())
		require.Equal(t, []any{"stream STRIPE does not exist: ingest has not run"}, got["attention"])
		require.Nil(t, got["stream"])
		require.EqualValues(t, 0, got["dead_letters_total"])
	})

	t.Run("ThresholdFlags", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		b.publish(t, 3)
		require.NoError(t, db.InsertDeadLetter(ctx, b.pool, db.DeadLetter{Subject: "stripe.event.x", StreamSeq: 1, Reason: "not a Stripe event", Payload: []byte("x")}))
		url := b.pool.Config().ConnString()
		nurl := b.js.Conn().ConnectedUrl()
		var out bytes.Buffer
		err := status.Run(ctx, []string{"-database-url", url, "-nats-url", nurl, "-max-pending", "2", "-max-unacked-age", time.Hour.String()}, func(string) string { return "" }, &out, "")
		var att *status.AttentionError
		require.ErrorAs(t, err, &att)
		require.Equal(t, []string{
			"consumer processor has 3 messages pending, over 2",
			"1 dead letters (stripe.dead_letters; replay them once the cause is fixed)",
		}, att.Reasons)
		require.Contains(t, out.String(), "stripesync status at")
		require.Contains(t, out.String(), "3 pending")
		require.NotContains(t, out.String(), "needs attention", "the reasons go to stderr, through the error")
	})

	t.Run("Help", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		err := status.Run(t.Context(), []string{"-h"}, func(string) string { return "" }, &out, "")
		require.True(t, errors.Is(err, flag.ErrHelp))
		require.Contains(t, out.String(), "usage: stripesync status [flags]")
		require.Contains(t, out.String(), "-http-public")
		require.Contains(t, out.String(), "(env DATABASE_URL)")
	})

	t.Run("PublicAddressRefused", func(t *testing.T) {
		t.Parallel()
		err := status.Run(t.Context(), []string{"-http", "0.0.0.0:8090"}, func(string) string { return "" }, &bytes.Buffer{}, "postgres://x")
		require.ErrorContains(t, err, "not a loopback address")
	})
}
