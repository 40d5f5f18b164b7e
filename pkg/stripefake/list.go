package stripefake

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Paging limits of every Stripe list endpoint.
const (
	defaultLimit = 10
	maxLimit     = 100
)

// listQuery holds the parameters every list endpoint takes. See
// https://docs.stripe.com/api/pagination.
type listQuery struct {
	limit         int
	startingAfter string
	endingBefore  string
	created       func(int64) bool // nil means any
	expand        []string         // relative to each item: "customer", not "data.customer"
	q             url.Values       // with array keys normalized: types[0] → types[]
}

var arrayIndex = regexp.MustCompile(`\[\d+\]$`)

// query returns r's parameters with stripe-go's indexed array keys
// ("expand[0]") folded into the "[]" form other clients send.
func query(r *http.Request) url.Values {
	q := r.URL.Query()
	out := make(url.Values, len(q))
	for k, vs := range q {
		k = arrayIndex.ReplaceAllString(k, "[]")
		out[k] = append(out[k], vs...)
	}
	return out
}

// checkParams refuses parameters the endpoint does not take, as Stripe does.
func checkParams(q url.Values, allowed []string) error {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return invalid(k, "Received unknown parameter: %s", k)
		}
	}
	return nil
}

var listParams = []string{"limit", "starting_after", "ending_before", "expand[]",
	"created", "created[gt]", "created[gte]", "created[lt]", "created[lte]"}

// parseList validates the paging, created and expand parameters, and checks
// that every other one is in extra.
func parseList(r *http.Request, extra ...string) (listQuery, error) {
	q := query(r)
	lq := listQuery{limit: defaultLimit, q: q}
	if err := checkParams(q, append(slices.Clone(listParams), extra...)); err != nil {
		return lq, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return lq, invalid("limit", "Invalid integer: %s", v)
		case n < 1:
			return lq, invalid("limit", "This value must be greater than or equal to 1.")
		case n > maxLimit:
			return lq, invalid("limit", "This value must be less than or equal to %d.", maxLimit)
		}
		lq.limit = n
	}
	lq.startingAfter, lq.endingBefore = q.Get("starting_after"), q.Get("ending_before")
	if lq.startingAfter != "" && lq.endingBefore != "" {
		return lq, invalid("starting_after", "You may only specify one of these parameters: ending_before, starting_after.")
	}
	for _, e := range q["expand[]"] {
		rel, ok := strings.CutPrefix(e, "data.")
		if !ok {
			return lq, invalid("expand", "This property cannot be expanded (%s). You may want to try expanding 'data.%s' instead.", e, e)
		}
		lq.expand = append(lq.expand, rel)
	}
	created, err := parseCreated(q)
	if err != nil {
		return lq, err
	}
	lq.created = created
	return lq, nil
}

// parseCreated reads created=T or created[gt|gte|lt|lte]=T (Unix seconds).
func parseCreated(q url.Values) (func(int64) bool, error) {
	type bound struct {
		op string
		v  int64
	}
	var bounds []bound
	for _, op := range []string{"", "gt", "gte", "lt", "lte"} {
		key := "created"
		if op != "" {
			key += "[" + op + "]"
		}
		v := q.Get(key)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, invalid(key, "Invalid integer: %s", v)
		}
		bounds = append(bounds, bound{op, n})
	}
	if len(bounds) == 0 {
		return nil, nil
	}
	return func(t int64) bool {
		for _, b := range bounds {
			ok := true
			switch b.op {
			case "":
				ok = t == b.v
			case "gt":
				ok = t > b.v
			case "gte":
				ok = t >= b.v
			case "lt":
				ok = t < b.v
			case "lte":
				ok = t <= b.v
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

// page returns one page of c as Stripe's list object. object is the type of
// the items, used to find the cursor; pred filters (nil keeps all).
func (a *account) page(c *collection, object string, lq listQuery, pred func(*record) bool, url string) (map[string]any, error) {
	recs := c.all()
	match := func(r *record) bool {
		return (lq.created == nil || lq.created(r.created)) && (pred == nil || pred(r))
	}
	var got []*record
	hasMore := false
	collect := func(r *record) bool {
		if !match(r) {
			return true
		}
		if len(got) == lq.limit {
			hasMore = true
			return false
		}
		got = append(got, r)
		return true
	}
	switch {
	case lq.endingBefore != "":
		cur := a.find(object, lq.endingBefore)
		if cur == nil {
			return nil, cursorMissing(object, lq.endingBefore, "ending_before")
		}
		end := 0
		if c != nil {
			end = c.search(cur)
		}
		for i := end - 1; i >= 0 && collect(recs[i]); i-- {
		}
		slices.Reverse(got) // items before the cursor, still newest first
	default:
		start := 0
		if lq.startingAfter != "" {
			cur := a.find(object, lq.startingAfter)
			if cur == nil {
				return nil, cursorMissing(object, lq.startingAfter, "starting_after")
			}
			if c != nil {
				start = c.search(cur)
			}
			if start < len(recs) && recs[start] == cur {
				start++
			}
		}
		for i := start; i < len(recs) && collect(recs[i]); i++ {
		}
	}
	data := make([]any, 0, len(got))
	for _, r := range got {
		m, err := a.render(r, lq.expand)
		if err != nil {
			return nil, err
		}
		data = append(data, m)
	}
	return map[string]any{"object": "list", "data": data, "has_more": hasMore, "url": url}, nil
}

func cursorMissing(object, id, param string) error {
	e := missing(object, id, param)
	e.Status = http.StatusBadRequest
	return e
}

// equal reports whether a stored field matches a query value: strings as
// they are, booleans as "true"/"false", numbers in decimal.
func equal(field any, v string) bool {
	switch f := field.(type) {
	case string:
		return f == v
	case bool:
		return strconv.FormatBool(f) == v
	case int64:
		return strconv.FormatInt(f, 10) == v
	case int:
		return strconv.Itoa(f) == v
	case map[string]any: // an embedded object, e.g. promotion_code.coupon
		id, _ := f["id"].(string)
		return id == v
	}
	return false
}

func parseBool(q url.Values, key string) (bool, bool, error) {
	v := q.Get(key)
	if v == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil || (v != "true" && v != "false") {
		return false, false, invalid(key, "Invalid boolean: %s", v)
	}
	return b, true, nil
}
