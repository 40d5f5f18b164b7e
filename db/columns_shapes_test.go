package db_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
)

// place is where one shape of an object holds a column's value: a path as
// in catalog.Column.Paths.
type place struct {
	path string
	// expanded: the shape sends the reference as the object itself, as
	// Stripe does unasked for some fields (a 2023-10-16 line item's price).
	expanded bool
}

func at(path string) place       { return place{path: path} }
func expanded(path string) place { return place{path: path, expanded: true} }

// shapes says where the 2023-10-16 shape of an object and its current shape
// (2026-08-26.dahlia) hold a column's value. The zero old place, or no
// current place, says that shape has no such field: the column must be
// NULL there. Each current place beyond the first is a variant of the
// current shape of its own (a line item made by a subscription item, or by
// an invoice item).
type shapes struct {
	old     place
	current []place
}

func both(p place) shapes                      { return shapes{old: p, current: []place{p}} }
func moved(old place, current ...place) shapes { return shapes{old: old, current: current} }

// objectShapes are the shapes of one object's columns. same lists, space
// separated, the columns read from the field of their own name in both
// shapes; cols gives the others.
type objectShapes struct {
	same string
	cols map[string]shapes
}

// columnShapes writes down, for every typed column of the catalog, where
// Stripe puts its value in the oldest shape the mirror meets (2023-10-16,
// the layout of stripe-go v76) and in the current one (the OpenAPI
// specification of stripe-mock v0.203.0, 2026-08-26.dahlia). The changes in
// between are Stripe's changelog:
// https://docs.stripe.com/changelog/basil/2025-03-31/adds-new-parent-field-to-invoicing-objects,
// https://docs.stripe.com/changelog/basil/2025-03-31/invoice-pricing-configurations,
// https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end,
// https://docs.stripe.com/changelog/basil/2025-03-31/add-support-for-multiple-partial-payments-on-invoices,
// https://docs.stripe.com/changelog/clover/2025-09-30/add-discount-source-property,
// https://docs.stripe.com/changelog/clover/2025-09-30/polymorphic-coupon.
var columnShapes = map[string]objectShapes{
	"account":             {same: "created type email country charges_enabled payouts_enabled"},
	"application_fee":     {same: "created charge amount amount_refunded currency"},
	"balance_transaction": {same: "created source type status amount fee net currency available_on"},
	"bank_account": {
		same: "customer bank_name last4 country currency status",
		cols: map[string]shapes{"connected_account": both(at("account"))},
	},
	// Credit grants came in 2024-10-28.acacia: their oldest shape is that
	// one, and it has the current paths.
	"billing.credit_grant": {
		same: "created customer name category effective_at expires_at voided_at",
		cols: map[string]shapes{
			"amount":   both(at("amount.monetary.value")),
			"currency": both(at("amount.monetary.currency")),
		},
	},
	"card": {
		same: "customer brand last4 exp_month exp_year funding country",
		cols: map[string]shapes{"connected_account": both(at("account"))},
	},
	"charge": {
		same: "created customer payment_intent balance_transaction status amount amount_refunded currency paid refunded",
		// Gone since basil, with nothing in its place on the charge.
		cols: map[string]shapes{"invoice": {old: at("invoice")}},
	},
	"checkout.session":      {same: "created customer subscription payment_intent invoice mode status payment_status"},
	"coupon":                {same: "created name valid duration percent_off amount_off currency"},
	"credit_note":           {same: "created customer invoice status total currency"},
	"credit_note_line_item": {same: "type invoice_line_item amount quantity"},
	"customer":              {same: "created email name currency delinquent"},
	"discount": {
		same: "customer subscription invoice promotion_code",
		cols: map[string]shapes{
			"created": {}, // no shape of a discount has it
			"coupon":  moved(expanded("coupon"), at("source.coupon")),
		},
	},
	"dispute": {same: "created charge payment_intent status reason amount currency"},
	"file":    {same: "created purpose type filename size"},
	"invoice": {
		same: "created customer status number currency total amount_due amount_paid amount_remaining due_date period_start period_end",
		cols: map[string]shapes{"subscription": moved(at("subscription"), at("parent.subscription_details.subscription"))},
	},
	"invoiceitem": {
		same: "customer invoice amount currency",
		cols: map[string]shapes{
			"created":      both(at("date")),
			"subscription": moved(at("subscription"), at("parent.subscription_details.subscription")),
		},
	},
	"item": {
		same: "quantity amount_total currency",
		cols: map[string]shapes{"price": both(expanded("price"))},
	},
	"line_item": {
		same: "amount currency quantity",
		cols: map[string]shapes{
			"type":  {old: at("type")}, // gone since basil; parent.type says it in other words
			"price": moved(expanded("price"), at("pricing.price_details.price")),
			"subscription": moved(at("subscription"),
				at("parent.subscription_item_details.subscription"), at("parent.invoice_item_details.subscription")),
			"period_start": both(at("period.start")),
			"period_end":   both(at("period.end")),
		},
	},
	"payment_intent": {
		same: "created customer payment_method status amount amount_received currency",
		// Gone since basil, as on the charge.
		cols: map[string]shapes{"invoice": {old: at("invoice")}},
	},
	"payment_method": {same: "created customer type"},
	"payout":         {same: "created status amount currency arrival_date balance_transaction"},
	"plan":           {same: "created product active amount currency interval"},
	"price": {
		same: "created product active type unit_amount currency lookup_key",
		cols: map[string]shapes{"recurring_interval": both(at("recurring.interval"))},
	},
	"product": {same: "created name active"},
	"promotion_code": {
		same: "created code customer active",
		cols: map[string]shapes{"coupon": moved(expanded("coupon"), at("promotion.coupon"))},
	},
	"radar.early_fraud_warning": {same: "created charge payment_intent fraud_type actionable"},
	"refund":                    {same: "created charge payment_intent status reason amount currency"},
	"review":                    {same: "created charge payment_intent reason open"},
	"setup_intent":              {same: "created customer payment_method status usage"},
	"source":                    {same: "created customer type status usage"},
	"subscription": {
		same: "created customer status cancel_at_period_end canceled_at ended_at",
		cols: map[string]shapes{
			"current_period_end":   moved(at("current_period_end"), at("items.data.0.current_period_end")),
			"current_period_start": moved(at("current_period_start"), at("items.data.0.current_period_start")),
		},
	},
	"subscription_item": {
		same: "created subscription quantity",
		cols: map[string]shapes{"price": both(expanded("price"))},
	},
	"subscription_schedule": {same: "created customer subscription status"},
	"tax_id":                {same: "created customer type value country"},
	"tax_rate":              {same: "created display_name active inclusive percentage country"},
	"transfer":              {same: "created destination amount currency reversed"},
}

// shapesOf is the shapes of every typed column of res, or an error naming
// the columns columnShapes leaves out or does not know.
func shapesOf(res *catalog.Resource) (map[string]shapes, error) {
	o, ok := columnShapes[res.Object]
	if !ok {
		return nil, fmt.Errorf("columnShapes has no entry for %s: write down where its columns sit in each shape", res.Object)
	}
	all := map[string]shapes{}
	for _, name := range strings.Fields(o.same) {
		all[name] = both(at(name))
	}
	for name, s := range o.cols {
		if _, dup := all[name]; dup {
			return nil, fmt.Errorf("columnShapes[%q]: %s is in same and in cols", res.Object, name)
		}
		all[name] = s
	}
	var missing, unknown []string
	for _, c := range res.Columns {
		if _, ok := all[c.Name]; !ok {
			missing = append(missing, c.Name)
		}
	}
	for name := range all {
		if !slices.ContainsFunc(res.Columns, func(c catalog.Column) bool { return c.Name == name }) {
			unknown = append(unknown, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("columnShapes[%q] has no case for column %v: write down where it sits in each shape", res.Object, missing)
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("columnShapes[%q] has cases for columns the catalog does not have: %v", res.Object, unknown)
	}
	return all, nil
}

// Every typed column reads its value from an object of the oldest shape
// and from one of the current shape, so the columns follow each field
// across the API versions the mirror stores (and with
// TestSchemaMatchesCatalog, the catalog's paths do). The current shape is
// stripe-mock's fixture of the object (testdata/stripe_mock_fixtures.json,
// taken from stripe-mock's embedded.OpenAPIFixtures; the db module does not
// depend on stripe-mock) with a value put at each column's place and the
// places of other shapes removed; the old shape is built from the places
// columnShapes gives it. A column whose field is gone with no replacement
// must be NULL in the current shape.
func TestColumnsReadEveryShape(t *testing.T) {
	t.Parallel()

	var fixtures struct {
		APIVersion string                     `json:"api_version"`
		Resources  map[string]json.RawMessage `json:"resources"`
	}
	raw, err := os.ReadFile("testdata/stripe_mock_fixtures.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &fixtures))
	require.NotEmpty(t, fixtures.APIVersion)

	var rows []shapeRow
	for _, res := range catalog.All() {
		cols, err := shapesOf(res)
		require.NoError(t, err)
		rows = append(rows, oldShape(res, cols))
		rows = append(rows, currentShapes(t, res, cols, fixtures.Resources[res.Object])...)
	}

	pool := dbtest.New(t)
	batch := &pgx.Batch{}
	for i, r := range rows {
		data, err := json.Marshal(r.data)
		require.NoError(t, err)
		rows[i].json = data
		table := pgx.Identifier{"stripe", r.res.Relation()}.Sanitize()
		if r.res.Parent != "" {
			batch.Queue("INSERT INTO "+table+" (id, livemode, data, state_at, parent) VALUES ($1, false, $2, now(), 'parent_1')", r.id, data)
		} else {
			batch.Queue("INSERT INTO "+table+" (id, livemode, data, state_at) VALUES ($1, false, $2, now())", r.id, data)
		}
	}
	require.NoError(t, pool.SendBatch(t.Context(), batch).Close())

	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			var exprs []string
			for _, c := range r.res.Columns {
				exprs = append(exprs, readable(c))
			}
			q, err := pool.Query(t.Context(),
				"SELECT "+strings.Join(exprs, ", ")+" FROM "+pgx.Identifier{"stripe", r.res.Relation()}.Sanitize()+" WHERE id = $1", r.id)
			require.NoError(t, err)
			values, err := pgx.CollectExactlyOneRow(q, func(row pgx.CollectableRow) ([]any, error) { return row.Values() })
			require.NoError(t, err)
			have := map[string]any{}
			for i, c := range r.res.Columns {
				have[c.Name] = values[i]
			}
			require.Equal(t, r.want, have, "stripe.%s, data %s", r.res.Relation(), r.json)
		})
	}
}

// shapeRow is one object to store, and what its typed columns must read.
type shapeRow struct {
	res  *catalog.Resource
	name string // the subtest: object/shape
	id   string
	data map[string]any
	json []byte         // data as stored
	want map[string]any // column name → value as readable selects it; nil for NULL
}

// oldShape is res's object in the 2023-10-16 layout (or in its first one,
// for an object Stripe added later): its id and object, and every column's
// value at its old place.
func oldShape(res *catalog.Resource, cols map[string]shapes) shapeRow {
	r := shapeRow{
		res:  res,
		name: res.Object + "/oldest",
		id:   strings.ReplaceAll(res.Object, ".", "_") + "_oldest",
		want: map[string]any{},
	}
	r.data = map[string]any{"id": r.id, "object": res.Object, "livemode": false}
	for i, c := range res.Columns {
		p := cols[c.Name].old
		if p.path == "" {
			r.want[c.Name] = nil
			continue
		}
		sent, read := value(c, i, 0, p)
		setPath(r.data, p.path, sent)
		r.want[c.Name] = read
	}
	return r
}

// currentShapes are res's object in the current shape, one per variant of
// it that columnShapes names: the fixture, its places of every column
// cleared, then each column's value at its current place.
func currentShapes(t *testing.T, res *catalog.Resource, cols map[string]shapes, fixture json.RawMessage) []shapeRow {
	t.Helper()
	variants := 1
	for _, s := range cols {
		variants = max(variants, len(s.current))
	}
	var out []shapeRow
	for v := range variants {
		r := shapeRow{
			res:  res,
			name: fmt.Sprintf("%s/current/%d", res.Object, v+1),
			id:   fmt.Sprintf("%s_current_%d", strings.ReplaceAll(res.Object, ".", "_"), v+1),
			data: map[string]any{"object": res.Object}, // when stripe-mock has no fixture of it
			want: map[string]any{},
		}
		if fixture != nil {
			d := json.NewDecoder(bytes.NewReader(fixture))
			d.UseNumber()
			require.NoError(t, d.Decode(&r.data))
		}
		r.data["id"] = r.id
		// Clear first, then set, so that no column clears another's value.
		for _, s := range cols {
			for _, p := range append([]place{s.old}, s.current...) {
				if p.path != "" {
					deletePath(r.data, p.path)
				}
			}
		}
		for i, c := range res.Columns {
			s := cols[c.Name]
			if len(s.current) == 0 {
				r.want[c.Name] = nil
				continue
			}
			p := s.current[min(v, len(s.current)-1)]
			sent, read := value(c, i, v+1, p)
			setPath(r.data, p.path, sent)
			r.want[c.Name] = read
		}
		out = append(out, r)
	}
	return out
}

// value is what shape puts at place p for c, the i-th column of its object,
// and what readable selects from it. Values differ between the columns of
// an object and between shapes, so a column reading another field fails.
func value(c catalog.Column, i, shape int, p place) (sent, read any) {
	switch c.Type {
	case catalog.Text:
		s := fmt.Sprintf("%s %d", c.Name, shape)
		return s, s
	case catalog.Reference:
		id := fmt.Sprintf("%s_%d_%d", c.Name, i, shape)
		if p.expanded {
			return map[string]any{"id": id, "object": c.Name}, id
		}
		return id, id
	case catalog.Timestamp:
		ts := int64(1_697_414_400 + 86_400*i + 3_600*shape) // from 2023-10-16T00:00:00Z
		return json.Number(strconv.FormatInt(ts, 10)), ts
	case catalog.Integer:
		n := int64(100*(i+1) + shape)
		return json.Number(strconv.FormatInt(n, 10)), n
	case catalog.Numeric:
		s := fmt.Sprintf("%d.25", 10*i+shape)
		return json.Number(s), s
	case catalog.Boolean:
		b := (i+shape)%2 == 0
		return b, b
	}
	panic(fmt.Sprintf("column %s: type %d", c.Name, c.Type))
}

// readable is the select expression of c, in a form pgx scans into the
// values value gives: seconds for a timestamp, text for a numeric.
func readable(c catalog.Column) string {
	col := pgx.Identifier{c.Name}.Sanitize()
	switch c.Type {
	case catalog.Timestamp:
		return "extract(epoch FROM " + col + ")::bigint"
	case catalog.Numeric:
		return col + "::text"
	}
	return col
}

// setPath puts v at the dot-separated path of obj, making the objects and
// arrays on the way.
func setPath(obj map[string]any, path string, v any) {
	put(obj, strings.Split(path, "."), v)
}

// put returns container with v at fields.
func put(container any, fields []string, v any) any {
	if len(fields) == 0 {
		return v
	}
	if n, err := strconv.Atoi(fields[0]); err == nil {
		arr, _ := container.([]any)
		for len(arr) <= n {
			arr = append(arr, map[string]any{})
		}
		arr[n] = put(arr[n], fields[1:], v)
		return arr
	}
	m, ok := container.(map[string]any)
	if !ok {
		m = map[string]any{}
	}
	m[fields[0]] = put(m[fields[0]], fields[1:], v)
	return m
}

// deletePath removes the field at the dot-separated path of obj, if it is
// there.
func deletePath(obj map[string]any, path string) {
	var container any = obj
	fields := strings.Split(path, ".")
	for i, f := range fields {
		last := i == len(fields)-1
		switch c := container.(type) {
		case map[string]any:
			if last {
				delete(c, f)
				return
			}
			container = c[f]
		case []any:
			n, err := strconv.Atoi(f)
			if err != nil || n >= len(c) || last {
				return
			}
			container = c[n]
		default:
			return
		}
	}
}
