package stripeapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"

	"github.com/stripesync/stripesync/pkg/stripeapi"
)

// fakeStripe is the Stripe API for one test: it lists customers as Stripe
// does (newest first, limit and starting_after, has_more), serves each
// customer by id, and records every request it receives.
type fakeStripe struct {
	srv *httptest.Server

	mu sync.Mutex
	// items are the customers, newest first, each exactly as it is sent.
	items [][]byte
	ids   []string
	// thin are thin events (GET /v2/core/events), newest first, each
	// exactly as it is sent; thinIDs their ids.
	thin    [][]byte
	thinIDs []string
	// answers replaces the answer to the request of that number (1-based),
	// once.
	answers  map[int]answer
	requests []request
}

type answer struct {
	status int
	header http.Header
	body   string
}

type request struct {
	at     time.Time
	method string
	path   string
	query  url.Values
	header http.Header
}

func newFakeStripe(t *testing.T, items ...[]byte) *fakeStripe {
	t.Helper()
	f := &fakeStripe{answers: map[int]answer{}}
	for _, item := range items {
		f.add(t, item)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/customers", f.list)
	mux.HandleFunc("GET /v1/customers/{id}", f.get)
	mux.HandleFunc("GET /v2/core/events", f.listV2)
	mux.HandleFunc("GET /v2/core/events/{id}", f.getV2)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		stripeError(w, http.StatusNotFound, "invalid_request_error", "", "Unrecognized request URL ("+r.Method+": "+r.URL.Path+")")
	})
	f.srv = httptest.NewServer(f.record(mux)) // 127.0.0.1, a free port
	t.Cleanup(f.srv.Close)
	return f
}

// customers returns n customers with ids cus_000 …, newest first.
func customers(n int) [][]byte {
	var items [][]byte
	for i := range n {
		items = append(items, fmt.Appendf(nil, `{"id":"cus_%03d","object":"customer","created":%d,"email":"c%d@example.com"}`, i, 1700000000-i, i))
	}
	return items
}

func (f *fakeStripe) add(t *testing.T, item []byte) {
	t.Helper()
	var ref struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(item, &ref))
	f.items = append(f.items, item)
	f.ids = append(f.ids, ref.ID)
}

// record keeps the request, then sends the answer set for its number, if
// any, or lets next answer.
func (f *fakeStripe) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, request{
			at: time.Now(), method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone(),
		})
		a, ok := f.answers[len(f.requests)]
		delete(f.answers, len(f.requests))
		f.mu.Unlock()
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		for k, vs := range a.header {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		w.Write([]byte(a.body))
	})
}

func (f *fakeStripe) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	limit := 10 // Stripe's default
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			stripeError(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid_integer", "limit must be between 1 and 100")
			return
		}
		limit = n
	}
	start := 0
	if after := r.URL.Query().Get("starting_after"); after != "" {
		i := slices.Index(f.ids, after)
		if i < 0 {
			stripeError(w, http.StatusBadRequest, "invalid_request_error", "resource_missing", "No such customer: '"+after+"'")
			return
		}
		start = i + 1
	}
	end := min(start+limit, len(f.items))
	// Written by hand, so that the items go out byte for byte.
	var b bytes.Buffer
	b.WriteString(`{"object":"list","data":[ `)
	for i, item := range f.items[start:end] {
		if i > 0 {
			b.WriteString(" ,\n  ")
		}
		b.Write(item)
	}
	fmt.Fprintf(&b, ` ],"has_more":%t,"url":"/v1/customers"}`, end < len(f.items))
	w.Header().Set("Content-Type", "application/json")
	w.Write(b.Bytes())
}

func (f *fakeStripe) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.Index(f.ids, r.PathValue("id"))
	if i < 0 {
		stripeError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such customer: '"+r.PathValue("id")+"'")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(f.items[i])
}

// addThin adds n thin events with ids evt_thin_000 …, newest first.
func (f *fakeStripe) addThin(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		id := fmt.Sprintf("evt_thin_%03d", i)
		created := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).Add(-time.Duration(i) * time.Second)
		f.thin = append(f.thin, fmt.Appendf(nil, `{"id":%q, "object":"v2.core.event","type":"v1.customer.updated","created":%q,`+
			`"related_object":{"id":"cus_%03d","type":"customer","url":"/v1/customers/cus_%03d"}}`, id, created.Format("2006-01-02T15:04:05.000Z"), i, i))
		f.thinIDs = append(f.thinIDs, id)
	}
}

// listV2 lists the thin events as API v2 lists do: limit (default 20),
// then next_page_url with an opaque page token that carries everything, so
// that a page request with any other parameter is refused. The account is
// in Stripe-Context; Stripe-Account is refused on /v2.
func (f *fakeStripe) listV2(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Stripe-Account") != "" {
		stripeError(w, http.StatusBadRequest, "invalid_request_error", "", "Stripe-Account is not accepted on /v2: use Stripe-Context")
		return
	}
	q := r.URL.Query()
	start, limit := 0, 20
	if page := q.Get("page"); page != "" {
		if len(q) != 1 {
			stripeError(w, http.StatusBadRequest, "invalid_request_error", "", "page takes no other parameter")
			return
		}
		// The token is "<offset>.<limit>", base64url: opaque to the client.
		raw, err := base64.RawURLEncoding.DecodeString(page)
		if _, serr := fmt.Sscanf(string(raw), "%d.%d", &start, &limit); err != nil || serr != nil {
			stripeError(w, http.StatusBadRequest, "invalid_request_error", "", "invalid page token")
			return
		}
	} else if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			stripeError(w, http.StatusBadRequest, "invalid_request_error", "", "limit must be between 1 and 100")
			return
		}
		limit = n
	}
	end := min(start+limit, len(f.thin))
	var b bytes.Buffer
	b.WriteString(`{"data":[`)
	for i, item := range f.thin[start:end] {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.Write(item)
	}
	b.WriteString(`],"next_page_url":`)
	if end < len(f.thin) {
		fmt.Fprintf(&b, `"/v2/core/events?page=%s"`, base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d", end, limit)))
	} else {
		b.WriteString("null")
	}
	b.WriteString(`,"previous_page_url":`)
	if start > 0 {
		fmt.Fprintf(&b, `"/v2/core/events?page=%s"`, base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d", max(0, start-limit), limit)))
	} else {
		b.WriteString("null")
	}
	b.WriteString("}")
	w.Header().Set("Content-Type", "application/json")
	w.Write(b.Bytes())
}

func (f *fakeStripe) getV2(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Stripe-Account") != "" {
		stripeError(w, http.StatusBadRequest, "invalid_request_error", "", "Stripe-Account is not accepted on /v2: use Stripe-Context")
		return
	}
	i := slices.Index(f.thinIDs, r.PathValue("id"))
	if i < 0 {
		stripeError(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "No such event: '"+r.PathValue("id")+"'")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(f.thin[i])
}

func stripeError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"type":%q,"code":%q,"message":%q}}`, typ, code, msg)
}

// answer sets the answer to request number n.
func (f *fakeStripe) answer(n int, a answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[n] = a
}

func (f *fakeStripe) received() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func newClient(t *testing.T, f *fakeStripe) (*stripeapi.Client, *stripeapi.Limiter) {
	t.Helper()
	lim := stripeapi.NewLimiter(1000, 100)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	return stripeapi.New(f.srv.URL, "sk_test_x", lim, log), lim
}

// listing is what a List call saw.
type listing struct {
	pages []*stripeapi.Page
	ids   []string
}

// collect returns a page callback that keeps what it sees, then calls next
// (when not nil) with the page's number, from 1.
func (l *listing) collect(next func(n int, fv *form.Values) error) func(*stripeapi.Page, *form.Values) error {
	return func(pg *stripeapi.Page, fv *form.Values) error {
		l.pages = append(l.pages, pg)
		for _, it := range pg.Items {
			l.ids = append(l.ids, it.ID)
		}
		if next != nil {
			return next(len(l.pages), fv)
		}
		return nil
	}
}

func TestList(t *testing.T) {
	t.Parallel()

	t.Run("PagesToTheEndInOrder", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(250)...)
		c, _ := newClient(t, f)
		var l listing
		before := time.Now()
		require.NoError(t, c.List(t.Context(), "/v1/customers", stripeapi.ListParams{}, l.collect(nil)))

		require.Equal(t, f.ids, l.ids)
		require.Len(t, l.pages, 3)
		for i, want := range []struct {
			n       int
			hasMore bool
		}{{100, true}, {100, true}, {50, false}} {
			pg := l.pages[i]
			require.Len(t, pg.Items, want.n, "page %d", i+1)
			require.Len(t, pg.Data, want.n, "page %d", i+1)
			require.Equal(t, want.hasMore, pg.HasMore, "page %d", i+1)
			require.Equal(t, "/v1/customers", pg.URL)
			require.False(t, pg.FetchedAt.Before(before), "page %d fetched before the listing began", i+1)
			before = pg.FetchedAt
		}
		first := l.pages[0].Items[0]
		require.Equal(t, "cus_000", first.ID)
		require.Equal(t, "customer", first.Object)
		require.EqualValues(t, 1700000000, first.Created)

		reqs := f.received()
		require.Len(t, reqs, 3)
		for i, wantAfter := range []string{"", "cus_099", "cus_199"} {
			r := reqs[i]
			require.Equal(t, http.MethodGet, r.method)
			require.Equal(t, "/v1/customers", r.path)
			require.Equal(t, "100", r.query.Get("limit"), "request %d", i+1)
			require.Equal(t, wantAfter, r.query.Get("starting_after"), "request %d", i+1)
			require.Equal(t, "Bearer sk_test_x", r.header.Get("Authorization"))
			require.Equal(t, []string{stripeapi.DefaultAPIVersion}, r.header.Values("Stripe-Version"), "our version, not stripe-go's pinned one")
			require.Empty(t, r.header.Values("Stripe-Account"), "a platform listing names no account")
		}
	})

	t.Run("ItemsKeepTheirRawBytes", func(t *testing.T) {
		t.Parallel()
		// Spacing, key order and escapes that a re-marshal would change.
		odd := []byte(`{ "object" :"customer",  "metadata": {"z": "1", "a": "2"},` + "\n\t" + `"id":"cus_odd" , "created":  1700000000 , "name": "caf\u00e9 \/ x"}`)
		items := append(customers(2), odd)
		items = append(items, customers(3)[2])
		f := newFakeStripe(t, items...)
		c, _ := newClient(t, f)
		var l listing
		require.NoError(t, c.List(t.Context(), "/v1/customers", stripeapi.ListParams{}, l.collect(nil)))
		require.Len(t, l.pages, 1)
		pg := l.pages[0]
		require.Len(t, pg.Items, 4)
		for i, want := range items {
			require.Equal(t, string(want), string(pg.Items[i].Raw), "item %d", i)
			require.Equal(t, string(want), string(pg.Data[i]), "item %d", i)
		}
		require.Equal(t, "cus_odd", pg.Items[2].ID)
	})

	t.Run("FiltersOnEveryPageAndChangesFromTheCallbackApplyAfter", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(250)...)
		c, _ := newClient(t, f)
		filters := url.Values{"status": {"all"}, "created[gte]": {"1600000000"}}
		var l listing
		err := c.List(t.Context(), "/v1/customers", stripeapi.ListParams{Filters: filters},
			l.collect(func(n int, fv *form.Values) error {
				if n == 1 { // narrow the range for the pages after the first
					fv.Set("created[lte]", "1699999900")
				}
				return nil
			}))
		require.NoError(t, err)
		require.Equal(t, f.ids, l.ids)
		reqs := f.received()
		require.Len(t, reqs, 3)
		for i, r := range reqs {
			require.Equal(t, []string{"all"}, r.query["status"], "request %d", i+1)
			require.Equal(t, []string{"1600000000"}, r.query["created[gte]"], "request %d", i+1)
		}
		require.NotContains(t, reqs[0].query, "created[lte]")
		require.Equal(t, []string{"1699999900"}, reqs[1].query["created[lte]"])
		require.Equal(t, []string{"1699999900"}, reqs[2].query["created[lte]"])
		require.Equal(t, url.Values{"status": {"all"}, "created[gte]": {"1600000000"}}, filters, "the caller's filters are left alone")
	})

	t.Run("StartingAfterResumes", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(250)...)
		c, _ := newClient(t, f)
		var l listing
		require.NoError(t, c.List(t.Context(), "/v1/customers", stripeapi.ListParams{StartingAfter: "cus_149"}, l.collect(nil)))
		require.Equal(t, f.ids[150:], l.ids)
		reqs := f.received()
		require.Len(t, reqs, 1)
		require.Equal(t, "cus_149", reqs[0].query.Get("starting_after"))
	})

	t.Run("AccountSendsStripeAccount", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(150)...)
		c, _ := newClient(t, f)
		var l listing
		require.NoError(t, c.List(t.Context(), "/v1/customers", stripeapi.ListParams{Account: "acct_1Connected"}, l.collect(nil)))
		require.Equal(t, f.ids, l.ids)
		reqs := f.received()
		require.Len(t, reqs, 2)
		for i, r := range reqs {
			require.Equal(t, []string{"acct_1Connected"}, r.header.Values("Stripe-Account"), "request %d", i+1)
		}
	})

	t.Run("CallbackErrorStopsTheListing", func(t *testing.T) {
		t.Parallel()
		for _, stopAt := range []int{1, 2} {
			t.Run(fmt.Sprintf("OnPage%d", stopAt), func(t *testing.T) {
				t.Parallel()
				f := newFakeStripe(t, customers(250)...)
				c, _ := newClient(t, f)
				errStop := errors.New("enough")
				var l listing
				err := c.List(t.Context(), "/v1/customers", stripeapi.ListParams{}, l.collect(func(n int, _ *form.Values) error {
					if n == stopAt {
						return errStop
					}
					return nil
				}))
				require.ErrorIs(t, err, errStop)
				require.Len(t, l.pages, stopAt)
				require.Len(t, f.received(), stopAt, "a request was made after the callback failed")
			})
		}
	})

	t.Run("ServerErrorsAreReturned", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name       string
			path       string
			params     stripeapi.ListParams
			wantStatus int
			wantCode   stripe.ErrorCode
		}{
			// Stripe answers 400 to a cursor it does not know.
			{"BadRequest", "/v1/customers", stripeapi.ListParams{StartingAfter: "cus_gone"}, http.StatusBadRequest, stripe.ErrorCodeResourceMissing},
			{"NotFound", "/v1/no_such_resource", stripeapi.ListParams{}, http.StatusNotFound, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				f := newFakeStripe(t, customers(5)...)
				c, _ := newClient(t, f)
				called := false
				err := c.List(t.Context(), tt.path, tt.params, func(*stripeapi.Page, *form.Values) error {
					called = true
					return nil
				})
				require.Error(t, err)
				require.ErrorContains(t, err, tt.path)
				var serr *stripe.Error
				require.ErrorAs(t, err, &serr)
				require.Equal(t, tt.wantStatus, serr.HTTPStatusCode)
				require.Equal(t, tt.wantCode, serr.Code)
				require.False(t, called, "the callback got a page of an answer that failed")
				require.Len(t, f.received(), 1, "stripe-go retried a %d", tt.wantStatus)
			})
		}
	})

	t.Run("ErrorOnALaterPageStopsAfterTheGoodOnes", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(250)...)
		f.answer(2, answer{status: http.StatusBadRequest, body: `{"error":{"type":"invalid_request_error","message":"bad cursor"}}`})
		c, _ := newClient(t, f)
		var l listing
		err := c.List(t.Context(), "/v1/customers", stripeapi.ListParams{}, l.collect(nil))
		var serr *stripe.Error
		require.ErrorAs(t, err, &serr)
		require.Equal(t, http.StatusBadRequest, serr.HTTPStatusCode)
		require.Equal(t, f.ids[:100], l.ids)
		require.Len(t, f.received(), 2)
	})

	t.Run("RateLimitIsWaitedOut", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(250)...)
		// The second page is refused once, as Stripe does past its rate.
		f.answer(2, answer{
			status: http.StatusTooManyRequests,
			header: http.Header{"Retry-After": {"1"}, "Stripe-Rate-Limited-Reason": {"global-rate"}},
			body:   `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`,
		})
		c, lim := newClient(t, f)
		var l listing
		require.NoError(t, c.List(t.Context(), "/v1/customers", stripeapi.ListParams{}, l.collect(nil)))
		require.Equal(t, f.ids, l.ids)
		require.Len(t, l.pages, 3)

		reqs := f.received()
		require.Len(t, reqs, 4)
		require.Equal(t, "cus_099", reqs[1].query.Get("starting_after"))
		require.Equal(t, reqs[1].query, reqs[2].query, "the retry asks for the page that was refused")
		require.GreaterOrEqual(t, reqs[2].at.Sub(reqs[1].at), time.Second, "the retry did not wait for Retry-After")
		require.EqualValues(t, 1, lim.RateLimited())
		require.EqualValues(t, 4, lim.Requests())
	})
}

func TestGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsTheBodyVerbatim", func(t *testing.T) {
		t.Parallel()
		odd := []byte(`{ "object":"customer" ,"id" : "cus_odd",` + "\n" + `"metadata":{"b":"1","a":"2"},"balance":1.50e2}`)
		f := newFakeStripe(t, append(customers(1), odd)...)
		c, _ := newClient(t, f)
		before := time.Now()
		body, at, err := c.Get(t.Context(), "/v1/customers/cus_odd", "acct_1Connected")
		require.NoError(t, err)
		require.Equal(t, string(odd), string(body))
		require.False(t, at.Before(before))
		reqs := f.received()
		require.Len(t, reqs, 1)
		require.Equal(t, "/v1/customers/cus_odd", reqs[0].path)
		require.Equal(t, []string{"acct_1Connected"}, reqs[0].header.Values("Stripe-Account"))
		require.Equal(t, "Bearer sk_test_x", reqs[0].header.Get("Authorization"))
	})

	t.Run("SendsTheConfiguredAPIVersion", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(1)...)
		log := slog.New(slog.NewTextHandler(t.Output(), nil))
		c := stripeapi.Config{Key: "sk_test_x", BaseURL: f.srv.URL, APIVersion: "2025-03-31.basil"}.Client(stripeapi.NewLimiter(1000, 100), log)
		require.Equal(t, "2025-03-31.basil", c.APIVersion())
		_, _, err := c.Get(t.Context(), "/v1/customers/cus_000", "")
		require.NoError(t, err)
		require.NoError(t, c.List(t.Context(), "/v1/customers", stripeapi.ListParams{}, func(*stripeapi.Page, *form.Values) error { return nil }))
		reqs := f.received()
		require.Len(t, reqs, 2)
		for _, r := range reqs {
			require.Equal(t, []string{"2025-03-31.basil"}, r.header.Values("Stripe-Version"), r.path)
		}
	})

	t.Run("PlatformSendsNoAccount", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(1)...)
		c, _ := newClient(t, f)
		body, _, err := c.Get(t.Context(), "/v1/customers/cus_000", "")
		require.NoError(t, err)
		require.Equal(t, string(f.items[0]), string(body))
		require.Empty(t, f.received()[0].header.Values("Stripe-Account"))
	})

	t.Run("NotFoundIsAnError", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(1)...)
		c, _ := newClient(t, f)
		_, _, err := c.Get(t.Context(), "/v1/customers/cus_missing", "")
		var serr *stripe.Error
		require.ErrorAs(t, err, &serr)
		require.Equal(t, http.StatusNotFound, serr.HTTPStatusCode)
		require.Equal(t, stripe.ErrorCodeResourceMissing, serr.Code)
		require.Len(t, f.received(), 1, "stripe-go retried a 404")
	})
}

func TestListV2(t *testing.T) {
	t.Parallel()

	t.Run("FollowsNextPageURLToTheEnd", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t)
		f.addThin(250)
		c, _ := newClient(t, f)
		filters := url.Values{"limit": {"100"}, "created[gte]": {"2026-11-01T00:00:00.000Z"}}
		var pages []*stripeapi.V2Page
		before := time.Now()
		err := c.ListV2(t.Context(), "/v2/core/events", stripeapi.V2ListParams{Filters: filters}, func(pg *stripeapi.V2Page) error {
			pages = append(pages, pg)
			return nil
		})
		require.NoError(t, err)
		require.Len(t, pages, 3)
		var ids []string
		var items [][]byte
		for i, pg := range pages {
			require.False(t, pg.FetchedAt.Before(before), "page %d fetched before the listing began", i+1)
			for _, raw := range pg.Data {
				var ref struct{ ID string }
				require.NoError(t, json.Unmarshal(raw, &ref))
				ids = append(ids, ref.ID)
				items = append(items, raw)
			}
		}
		require.Equal(t, f.thinIDs, ids)
		for i := range items {
			require.Equal(t, string(f.thin[i]), string(items[i]), "item %d is not verbatim", i)
		}
		require.NotEmpty(t, pages[0].NextPageURL)
		require.Empty(t, pages[0].PreviousPageURL)
		require.NotEmpty(t, pages[1].PreviousPageURL)
		require.Empty(t, pages[2].NextPageURL)

		reqs := f.received()
		require.Len(t, reqs, 3)
		require.Equal(t, "/v2/core/events", reqs[0].path)
		require.Equal(t, filters, reqs[0].query, "the first request carries the filters")
		for i, r := range reqs {
			require.Equal(t, "/v2/core/events", r.path)
			require.Empty(t, r.header.Values("Stripe-Account"), "request %d", i+1)
			require.Empty(t, r.header.Values("Stripe-Context"), "a platform listing names no account")
			require.Equal(t, []string{stripeapi.DefaultAPIVersion}, r.header.Values("Stripe-Version"), "request %d", i+1)
			require.Equal(t, "Bearer sk_test_x", r.header.Get("Authorization"))
			if i > 0 {
				require.Equal(t, []string{"page"}, slices.Collect(maps.Keys(r.query)), "request %d follows next_page_url as it is", i+1)
			}
		}
		require.Equal(t, url.Values{"limit": {"100"}, "created[gte]": {"2026-11-01T00:00:00.000Z"}}, filters, "the caller's filters are left alone")
	})

	t.Run("AccountSendsStripeContext", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t)
		f.addThin(30)
		c, _ := newClient(t, f)
		n := 0
		err := c.ListV2(t.Context(), "/v2/core/events", stripeapi.V2ListParams{Account: "acct_1Connected"}, func(pg *stripeapi.V2Page) error {
			n += len(pg.Data)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 30, n)
		reqs := f.received()
		require.Len(t, reqs, 2, "the default page size is 20")
		for i, r := range reqs {
			require.Equal(t, []string{"acct_1Connected"}, r.header.Values("Stripe-Context"), "request %d", i+1)
			require.Empty(t, r.header.Values("Stripe-Account"), "request %d", i+1)
		}
	})

	t.Run("CallbackErrorStopsTheListing", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t)
		f.addThin(50)
		c, _ := newClient(t, f)
		errStop := errors.New("enough")
		err := c.ListV2(t.Context(), "/v2/core/events", stripeapi.V2ListParams{}, func(*stripeapi.V2Page) error { return errStop })
		require.ErrorIs(t, err, errStop)
		require.Len(t, f.received(), 1, "a request was made after the callback failed")
	})

	t.Run("ErrorOnALaterPageIsReturned", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t)
		f.addThin(50)
		f.answer(2, answer{status: http.StatusBadRequest, body: `{"error":{"type":"invalid_request_error","message":"invalid page token"}}`})
		c, _ := newClient(t, f)
		pages := 0
		err := c.ListV2(t.Context(), "/v2/core/events", stripeapi.V2ListParams{}, func(*stripeapi.V2Page) error {
			pages++
			return nil
		})
		var serr *stripe.Error
		require.ErrorAs(t, err, &serr)
		require.Equal(t, http.StatusBadRequest, serr.HTTPStatusCode)
		require.ErrorContains(t, err, "/v2/core/events")
		require.Equal(t, 1, pages)
		require.Len(t, f.received(), 2)
	})

	t.Run("RefusesAV1Path", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(3)...)
		c, _ := newClient(t, f)
		err := c.ListV2(t.Context(), "/v1/customers", stripeapi.V2ListParams{}, func(*stripeapi.V2Page) error { return nil })
		require.ErrorContains(t, err, "not an API v2 path")
		require.Empty(t, f.received())
	})
}

func TestGetV2(t *testing.T) {
	t.Parallel()

	t.Run("AccountGoesInStripeContext", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t)
		f.addThin(3)
		c, _ := newClient(t, f)
		body, _, err := c.Get(t.Context(), "/v2/core/events/evt_thin_001", "acct_1Connected")
		require.NoError(t, err)
		require.Equal(t, string(f.thin[1]), string(body))
		reqs := f.received()
		require.Len(t, reqs, 1)
		require.Equal(t, []string{"acct_1Connected"}, reqs[0].header.Values("Stripe-Context"))
		require.Empty(t, reqs[0].header.Values("Stripe-Account"))
	})

	t.Run("V1PathKeepsStripeAccount", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t, customers(1)...)
		c, _ := newClient(t, f)
		_, _, err := c.Get(t.Context(), "/v1/customers/cus_000", "acct_1Connected")
		require.NoError(t, err)
		reqs := f.received()
		require.Equal(t, []string{"acct_1Connected"}, reqs[0].header.Values("Stripe-Account"))
		require.Empty(t, reqs[0].header.Values("Stripe-Context"))
	})

	t.Run("PlatformSendsNeither", func(t *testing.T) {
		t.Parallel()
		f := newFakeStripe(t)
		f.addThin(1)
		c, _ := newClient(t, f)
		_, _, err := c.Get(t.Context(), "/v2/core/events/evt_thin_000", "")
		require.NoError(t, err)
		h := f.received()[0].header
		require.Empty(t, h.Values("Stripe-Context"))
		require.Empty(t, h.Values("Stripe-Account"))
	})
}
