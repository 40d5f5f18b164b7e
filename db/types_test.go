package db_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
)

// TestRegisterTypesEncodesAsPgx: the json[] and jsonb[] parameters written
// in one piece are the bytes pgx's own array codec writes, and PostgreSQL
// reads them back as they were sent.
func TestRegisterTypesEncodesAsPgx(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	conn, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	require.NoError(t, db.RegisterTypes(t.Context(), conn.Conn()))
	registered := conn.Conn().TypeMap()
	standard := pgtype.NewMap()

	cases := map[string][][]byte{
		"nil":          nil,
		"empty":        {},
		"one":          {[]byte(`{"id":"cus_1","object":"customer"}`)},
		"several":      {[]byte(`{"a":1}`), []byte(`[1,2,"ü"]`), []byte(`"text"`), []byte(`null`)},
		"with a NULL":  {[]byte(`{"a":1}`), nil, []byte(`{"b":2}`)},
		"long element": {make([]byte, 0, 1<<20)},
	}
	cases["long element"][0] = append(cases["long element"][0], `{"k":"`...)
	for range 100_000 {
		cases["long element"][0] = append(cases["long element"][0], 'x')
	}
	cases["long element"][0] = append(cases["long element"][0], `"}`...)

	for name, value := range cases {
		for _, oid := range []uint32{pgtype.JSONArrayOID, pgtype.JSONBArrayOID} {
			prefix := []byte("earlier parameters")
			want, err := standard.Encode(oid, pgtype.BinaryFormatCode, value, append([]byte(nil), prefix...))
			require.NoError(t, err)
			got, err := registered.Encode(oid, pgtype.BinaryFormatCode, value, append([]byte(nil), prefix...))
			require.NoError(t, err)
			require.Equal(t, want, got, "%s, oid %d", name, oid)
		}
	}

	// Through PostgreSQL: each element back as text, NULL as NULL.
	sent := cases["with a NULL"]
	for _, cast := range []string{"json[]", "jsonb[]"} {
		rows, err := conn.Query(t.Context(), "SELECT e::text FROM unnest($1::"+cast+") AS e", sent)
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, pgx.RowTo[*string])
		require.NoError(t, err)
		require.Len(t, got, 3)
		require.Nil(t, got[1])
		require.JSONEq(t, `{"a":1}`, *got[0], cast)
		require.JSONEq(t, `{"b":2}`, *got[2], cast)
	}
}
