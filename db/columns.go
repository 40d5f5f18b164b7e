package db

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stripesync/stripesync/pkg/catalog"
)

// ColumnSQL is a typed column of the catalog as PostgreSQL computes it from
// data: its SQL type and the expression of a generated column. Each path is
// read with the type's tolerant reader (stripe.ref, stripe.ts, … give NULL
// for a value of another type), and the first path that gives a value wins,
// so a column follows a field across API versions. The migrations write
// their typed columns in exactly this form; a test holds them to it.
func ColumnSQL(c catalog.Column) (sqlType, expr string) {
	var reads []string
	for _, p := range c.Paths {
		reads = append(reads, read(c.Type, p))
	}
	expr = reads[0]
	if len(reads) > 1 {
		expr = "coalesce(" + strings.Join(reads, ", ") + ")"
	}
	return columnTypes[c.Type].sql, expr
}

var columnTypes = map[catalog.ColumnType]struct{ sql, reader string }{
	catalog.Text:      {"text", ""},
	catalog.Reference: {"text", "stripe.ref"},
	catalog.Timestamp: {"timestamptz", "stripe.ts"},
	catalog.Integer:   {"bigint", "stripe.int"},
	catalog.Numeric:   {"numeric", "stripe.num"},
	catalog.Boolean:   {"boolean", "stripe.bool"},
}

// read is the expression reading path of data as t.
func read(t catalog.ColumnType, path []string) string {
	var b strings.Builder
	b.WriteString("data")
	for i, field := range path {
		op := "->"
		if t == catalog.Text && i == len(path)-1 {
			op = "->>" // the string itself, not a JSON string
		}
		b.WriteString(op)
		if _, err := strconv.Atoi(field); err == nil {
			b.WriteString(field) // an array index
		} else {
			b.WriteString("'" + field + "'")
		}
	}
	reader := columnTypes[t].reader
	if reader == "" {
		return b.String()
	}
	return fmt.Sprintf("%s(%s)", reader, b.String())
}
