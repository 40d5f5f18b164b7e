package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/pkg/events/eventstest"
)

// Limits TestHostileInput runs ingest with.
const (
	hostileReadTimeout = 2 * time.Second
	hostileMaxBody     = 64 << 10
)

// TestHostileInput attacks a real ingest from several sides at once: clients
// trickling their headers or their bodies (slowloris), a flood of bad
// signatures, bodies nested 5,000 deep, bodies exactly at and just over the
// size limit, headers over their limit. Meanwhile valid signed events keep
// coming. Every valid event must get 200 and be on the stream; every bad
// request gets its 4xx and stores nothing; the server cuts off the slow
// clients; and the heap stays bounded (its peak is logged: go test -v
// -run TestHostileInput).
func TestHostileInput(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]string{
		"INGEST_READ_TIMEOUT":   hostileReadTimeout.String(),
		"INGEST_MAX_BODY_BYTES": strconv.Itoa(hostileMaxBody),
		"LOG_LEVEL":             "error", // thousands of rejections would fill the test's log
	})
	addr := strings.TrimPrefix(b.url, "http://")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	t.Cleanup(client.CloseIdleConnections)

	mem := startMemorySampler(t)

	var (
		mu        sync.Mutex
		valid     = map[string][]byte{} // event id → body, of each event answered 200
		validSent atomic.Int64
	)
	accept := func(id string, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		valid[id] = body
	}

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var g errgroup.Group

	// Valid traffic, all along, until the attacks are over.
	for w := range 2 {
		g.Go(func() error {
			for i := 0; ctx.Err() == nil || i < 20; i++ {
				id := fmt.Sprintf("evt_valid_%d_%d", w, i)
				body := customerEvent(t, id)
				status, answer, err := postWith(client, b.url, body, eventstest.Sign(body, testSecret, time.Now()), nil)
				if err != nil {
					return fmt.Errorf("valid event %s: %w", id, err)
				}
				if status != http.StatusOK {
					return fmt.Errorf("valid event %s: %d %s", id, status, answer)
				}
				accept(id, body)
				validSent.Add(1)
			}
			return nil
		})
	}

	var attacks errgroup.Group
	var slowest atomic.Int64 // how long the slowest slow client was served, in ns
	cutOff := func(head, rest string) func() error {
		return func() error {
			served, err := trickle(addr, head, rest)
			for old := slowest.Load(); served > time.Duration(old) && !slowest.CompareAndSwap(old, int64(served)); old = slowest.Load() {
			}
			return err
		}
	}
	// Slowloris: headers a byte at a time, never finished.
	for range 20 {
		attacks.Go(cutOff("POST /webhooks/stripe HTTP/1.1\r\nHost: ingest\r\nX-Slow: ", ""))
	}
	// Slowloris: whole headers, then a body a byte at a time.
	for range 20 {
		head := fmt.Sprintf("POST /webhooks/stripe HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: %d\r\n\r\n", hostileMaxBody)
		attacks.Go(cutOff(head, `{"id":"evt_slow","object":"event",`))
	}
	// A flood of bad signatures on real-looking events: wrong secret,
	// expired, tampered, missing, malformed.
	var badSigs atomic.Int64
	for w := range 4 {
		attacks.Go(func() error {
			for i := range 500 {
				id := fmt.Sprintf("evt_forged_%d_%d", w, i)
				body := customerEvent(t, id)
				var sig string
				switch i % 5 {
				case 0:
					sig = eventstest.Sign(body, "whsec_attacker", time.Now())
				case 1:
					sig = eventstest.Sign(body, testSecret, time.Now().Add(-time.Hour))
				case 2:
					sig = eventstest.Sign(customerEvent(t, "evt_other"), testSecret, time.Now())
				case 3:
					sig = ""
				default:
					sig = "t=" + strings.Repeat("9", 40) + ",v1=" + strings.Repeat("zz", 32)
				}
				status, _, err := postWith(client, b.url, body, sig, nil)
				if err != nil {
					return fmt.Errorf("forged %s: %w", id, err)
				}
				if status != http.StatusBadRequest {
					return fmt.Errorf("forged %s (kind %d): status %d, want 400", id, i%5, status)
				}
				badSigs.Add(1)
			}
			return nil
		})
	}
	// Deep nesting, correctly signed: inside an event's object it is still
	// Stripe's event and is stored; as the whole body it is not an event.
	deepID := "evt_deeply_nested"
	nested := json.RawMessage(strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000))
	deep := eventstest.NewEvent(deepID, "customer.updated",
		eventstest.With(eventstest.Object(t, "customer"), map[string]any{"metadata": map[string]any{"deep": nested}})).JSON(t)
	attacks.Go(func() error {
		body := deep
		if err := expect(client, b.url, body, testSecret, http.StatusOK); err != nil {
			return fmt.Errorf("nested object: %w", err)
		}
		accept(deepID, body)
		for _, body := range [][]byte{
			[]byte(strings.Repeat("[", 5000) + strings.Repeat("]", 5000)),
			[]byte(strings.Repeat(`{"id":`, 5000) + `"evt_x"` + strings.Repeat("}", 5000)),
			[]byte(strings.Repeat("[", 60000)), // unfinished, and deeper than any decoder allows
		} {
			if err := expect(client, b.url, body, testSecret, http.StatusBadRequest); err != nil {
				return fmt.Errorf("nested body: %w", err)
			}
		}
		return nil
	})
	// Bodies at the limit and just over it, announced or chunked.
	atLimitID := "evt_exactly_at_the_limit"
	attacks.Go(func() error {
		body := padTo(t, customerEvent(t, atLimitID), hostileMaxBody)
		if err := expect(client, b.url, body, testSecret, http.StatusOK); err != nil {
			return fmt.Errorf("body at the limit: %w", err)
		}
		accept(atLimitID, body)
		// Over the limit, the server answers before it has read the
		// body and closes the connection: sent on a raw connection whose
		// answer is read while the body is still being written.
		over := padTo(t, customerEvent(t, "evt_one_byte_over"), hostileMaxBody+1)
		if status, err := rawPost(addr, over, false); err != nil || status != http.StatusRequestEntityTooLarge {
			return fmt.Errorf("body one byte over: %d, %v", status, err)
		}
		// Chunked, without a Content-Length, the limit holds all the same.
		chunked := padTo(t, customerEvent(t, "evt_chunked_over"), 4*hostileMaxBody)
		if status, err := rawPost(addr, chunked, true); err != nil || status != http.StatusRequestEntityTooLarge {
			return fmt.Errorf("chunked body over the limit: %d, %v", status, err)
		}
		return nil
	})
	// Headers over their limit.
	attacks.Go(func() error {
		body := customerEvent(t, "evt_huge_headers")
		status, _, err := postWith(client, b.url, body, eventstest.Sign(body, testSecret, time.Now()), func(r *http.Request) {
			r.Header.Set("X-Padding", strings.Repeat("p", 1<<20))
		})
		if err != nil || status != http.StatusRequestHeaderFieldsTooLarge {
			return fmt.Errorf("1 MiB of headers: %d, %v", status, err)
		}
		return nil
	})

	require.NoError(t, attacks.Wait())
	stop()
	require.NoError(t, g.Wait())
	peak := mem.stop()

	// Every valid event is on the stream, as sent, and nothing else is.
	msgs := stored(t, b.js)
	got := map[string][]byte{}
	for _, m := range msgs {
		got[m.Header.Get("Nats-Msg-Id")] = m.Data
	}
	require.Len(t, got, len(msgs), "each event once")
	require.Equal(t, len(valid), len(got), "stored exactly the events answered 200")
	for id, body := range valid {
		require.Equal(t, body, got[id], "event %s stored verbatim", id)
	}
	t.Logf("accepted %d valid events during %d forged ones, 40 slow clients (cut off after at most %s; read timeout %s), nested and oversized bodies; heap peak %.1f MiB (baseline %.1f MiB), RSS peak %.1f MiB (baseline %.1f MiB), test process: ingest, NATS server and clients",
		validSent.Load(), badSigs.Load(), time.Duration(slowest.Load()).Round(time.Millisecond), hostileReadTimeout, mib(peak.heap), mib(peak.baseHeap), mib(peak.rss), mib(peak.baseRSS))
	// Generous: the flood costs a few MiB; a leak or unbounded buffering
	// of 2,000 requests of 64 KiB and more would pass it.
	require.Less(t, peak.heap-peak.baseHeap, uint64(256<<20), "heap growth during the attacks")
}

// trickle opens a connection, sends head at once and then rest a byte every
// 100 ms (or, with rest empty, more header bytes forever), and returns how
// long the server kept it once the server has closed the connection or
// answered: it must not wait for the client. It gives up after 30 s, far
// beyond the server's read timeout.
func trickle(addr, head, rest string) (served time.Duration, err error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, err
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			resp.Body.Close()
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-closed:
			if served := time.Since(start); served > 30*time.Second {
				return served, fmt.Errorf("server never cut off a slow client (%s)", served)
			}
			return time.Since(start), nil
		case <-time.After(100 * time.Millisecond):
		}
		next := "x"
		if rest != "" {
			next = string(rest[i%len(rest)])
		}
		if _, err := io.WriteString(conn, next); err != nil {
			<-closed // the server closed it: what is wanted
			return time.Since(start), nil
		}
	}
}

// rawPost posts body, signed with testSecret, on a connection of its own,
// with a Content-Length or chunked, and returns the status of the answer,
// read while the body is still being written: a server that refuses a body
// answers before reading it all.
func rawPost(addr string, body []byte, chunked bool) (int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	head := "POST /webhooks/stripe HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nStripe-Signature: " +
		eventstest.Sign(body, testSecret, time.Now()) + "\r\n"
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	}
	go func() {
		// Write errors are expected once the server has answered and
		// closed the connection.
		w := bufio.NewWriter(conn)
		w.WriteString(head)
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 4<<10)
			if chunked {
				fmt.Fprintf(w, "%x\r\n%s\r\n", n, rest[:n])
			} else {
				w.Write(rest[:n])
			}
			if w.Flush() != nil {
				return
			}
			rest = rest[n:]
		}
		if chunked {
			w.WriteString("0\r\n\r\n")
		}
		w.Flush()
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func postWith(client *http.Client, url string, body []byte, signature string, change func(*http.Request)) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/stripe", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	if change != nil {
		change(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer), err
}

// expect posts body signed with secret and checks the status.
func expect(client *http.Client, url string, body []byte, secret string, want int) error {
	status, answer, err := postWith(client, url, body, eventstest.Sign(body, secret, time.Now()), nil)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("status %d (%s), want %d", status, strings.TrimSpace(answer), want)
	}
	return nil
}

// padTo pads a JSON event to exactly n bytes with spaces before its closing
// brace: still the same event.
func padTo(t *testing.T, body []byte, n int) []byte {
	t.Helper()
	require.Less(t, len(body), n)
	out := append(bytes.Clone(body[:len(body)-1]), bytes.Repeat([]byte(" "), n-len(body))...)
	out = append(out, '}')
	require.Len(t, out, n)
	return out
}

type memoryPeak struct{ heap, baseHeap, rss, baseRSS uint64 }

type memorySampler struct {
	done chan struct{}
	peak chan memoryPeak
}

// startMemorySampler reads the process's live heap and resident set every
// 10 ms until stop, which returns the peaks and the values at the start.
func startMemorySampler(t *testing.T) *memorySampler {
	t.Helper()
	m := &memorySampler{done: make(chan struct{}), peak: make(chan memoryPeak, 1)}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() (uint64, uint64) {
		metrics.Read(sample)
		return sample[0].Value.Uint64(), residentBytes()
	}
	var p memoryPeak
	p.baseHeap, p.baseRSS = read()
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			heap, rss := read()
			p.heap, p.rss = max(p.heap, heap), max(p.rss, rss)
			select {
			case <-m.done:
				m.peak <- p
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

func (m *memorySampler) stop() memoryPeak {
	close(m.done)
	return <-m.peak
}

// residentBytes is the process's resident set (VmRSS), 0 where /proc is
// not there.
func residentBytes() uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
