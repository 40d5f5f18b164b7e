package catalog

import "strings"

// Column is a typed column of a relation: a value PostgreSQL computes from
// the object's data, for filtering and joining.
type Column struct {
	// Name is the column's name.
	Name string
	// Type says how the value is read.
	Type ColumnType
	// Paths are where the value sits in the object, as dot-separated field
	// names (a number indexes an array): "parent.subscription_details.subscription".
	// The first path that holds a value of the column's type gives it, so a
	// column can follow a field across the shapes of several API versions.
	Paths [][]string
}

// ColumnType says how a column reads its value.
type ColumnType int

const (
	// Text is a string.
	Text ColumnType = iota + 1
	// Reference is the id an expandable field refers to, whether Stripe sent the
	// id or the expanded object.
	Reference
	// Timestamp is a Unix timestamp in seconds, stored as timestamptz.
	Timestamp
	// Integer is an integer (amounts are in the currency's smallest unit).
	Integer
	// Numeric is a decimal number, which Stripe sends as a number or a string.
	Numeric
	// Boolean is a boolean.
	Boolean
)

func column(t ColumnType, name string, paths []string) Column {
	if len(paths) == 0 {
		paths = []string{name}
	}
	c := Column{Name: name, Type: t}
	for _, p := range paths {
		c.Paths = append(c.Paths, strings.Split(p, "."))
	}
	return c
}

// The constructors of the catalog's columns: the column named name, read at
// the given paths, or at the field of the same name when none is given.
func text(name string, paths ...string) Column { return column(Text, name, paths) }
func ref(name string, paths ...string) Column  { return column(Reference, name, paths) }
func ts(name string, paths ...string) Column   { return column(Timestamp, name, paths) }
func num(name string, paths ...string) Column  { return column(Numeric, name, paths) }
func flag(name string, paths ...string) Column { return column(Boolean, name, paths) }
func integer(name string, paths ...string) Column {
	return column(Integer, name, paths)
}
