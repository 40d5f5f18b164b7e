package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/services/stripesync/internal/status"
)

// chromium is Debian's headless browser; .ci/run installs it when missing.
const chromium = "/usr/bin/chromium"

func TestPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.publish(t, 7)
	for i, reason := range []string{"not a Stripe event", "not a Stripe event"} {
		require.NoError(t, db.InsertDeadLetter(ctx, b.pool, db.DeadLetter{Subject: "stripe.event.x", StreamSeq: uint64(i + 1), Reason: reason, Payload: []byte("x")}))
	}
	kv, err := b.js.CreateKeyValue(ctx, events.StateBucketConfig())
	require.NoError(t, err)
	_, err = kv.PutString(ctx, events.EventsCursorKey("acct_secret1"), time.Now().UTC().Format(time.RFC3339))
	require.NoError(t, err)
	_, err = kv.PutString(ctx, events.BackfillTaskKey("0123456789ab", "slot1"), `{"id":"acct_secret1.customer","account":"acct_secret1","resource":"customer","cursor":"cus_secret2","objects":250}`)
	require.NoError(t, err)

	// The page on a free loopback port, sampling fast.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	p := &status.Page{
		GatherFunc:     func(ctx context.Context) status.Report { return status.Gather(ctx, b.pool, b.js) },
		Thresholds:     status.DefaultThresholds,
		SampleInterval: 100 * time.Millisecond,
		Window:         time.Minute,
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- p.Serve(sctx, ln) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-served)
	})

	get := func(path string) (string, http.Header) {
		t.Helper()
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		return string(body), resp.Header
	}

	// status.json: the report, what needs attention and the history.
	var doc struct {
		Stream struct {
			Messages uint64 `json:"messages"`
		} `json:"stream"`
		DeadLettersTotal int64 `json:"dead_letters_total"`
		CatchUp          struct {
			Cursors int `json:"cursors"`
		} `json:"catch_up"`
		Attention []string       `json:"attention"`
		History   []status.Point `json:"history"`
	}
	require.Eventually(t, func() bool {
		body, _ := get("/status.json")
		require.NoError(t, json.Unmarshal([]byte(body), &doc))
		return len(doc.History) >= 2
	}, 10*time.Second, 50*time.Millisecond)
	body, h := get("/status.json")
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.EqualValues(t, 7, doc.Stream.Messages)
	require.EqualValues(t, 2, doc.DeadLettersTotal)
	require.Equal(t, 1, doc.CatchUp.Cursors)
	require.Equal(t, []string{"2 dead letters (stripe.dead_letters; replay them once the cause is fixed)"}, doc.Attention)
	require.EqualValues(t, 7, doc.History[len(doc.History)-1].Pending)
	require.NotContains(t, body, "acct_secret1", "counts, never ids")
	require.NotContains(t, body, "cus_secret2")

	// The page: inline everything, no script, no external asset.
	page, h := get("/")
	require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
	require.Contains(t, page, `<meta http-equiv="refresh" content="1">`)
	require.Contains(t, page, "<svg")
	require.NotContains(t, page, "<script")
	require.NotRegexp(t, `(src|href)="(https?:)?//`, page)
	require.NotContains(t, page, "acct_secret1")
	require.NotContains(t, page, "cus_secret2")

	if _, err := os.Stat(chromium); err != nil {
		t.Skip("no " + chromium + " (Debian's chromium; .ci/run installs it): the page is not rendered in a browser")
	}
	dir := t.TempDir()
	shot := filepath.Join(dir, "status.png")
	runChromium(t, dir, "--screenshot="+shot, "--window-size=1200,900", base+"/")
	png, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "a PNG")
	require.Greater(t, len(png), 20_000, "a page, not a blank screen")

	dom := runChromium(t, dir, "--dump-dom", base+"/")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?s)id="stream".*?<div class="big">7</div>`),
		regexp.MustCompile(`(?s)id="consumer".*?<div class="big">7 <span`),
		regexp.MustCompile(`(?s)id="dead-letters".*?<div class="big bad">2</div>`),
		regexp.MustCompile(`(?s)id="attention".*?2 dead letters`),
		regexp.MustCompile(`(?s)id="backfills".*?objects listed</dt><dd>250</dd>`),
		regexp.MustCompile(`<svg class="chart"`),
	} {
		require.Regexp(t, want, dom)
	}
}

// runChromium runs headless Chromium with a profile in dir, and returns
// what it printed on stdout.
func runChromium(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	profile, err := os.MkdirTemp(dir, "profile")
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, chromium, append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
	}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "chromium: %s", stderr.String())
	return stdout.String()
}
