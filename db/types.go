package db

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// RegisterTypes makes conn encode the json[] and jsonb[] parameters of the
// batch queries, given as [][]byte (the events and objects of a batch,
// whole, megabytes of them), in one piece: the buffer they are written to
// is grown once, to their size, instead of doubling again and again as
// pgx's array codec appends them one by one. Each batch query has them as
// its last parameter, so that no parameter after them makes the buffer, or
// the Bind message that copies it, grow once more. Under load that growth
// was about two thirds of what the processor allocated, and so of its
// garbage collection. The bytes sent are the same; a connection without
// RegisterTypes sends the same queries with pgx's own codec.
//
// Use it as pgxpool.Config.AfterConnect.
func RegisterTypes(_ context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	for _, a := range []struct {
		oid, elem uint32
		jsonb     bool
	}{
		{pgtype.JSONArrayOID, pgtype.JSONOID, false},
		{pgtype.JSONBArrayOID, pgtype.JSONBOID, true},
	} {
		t, ok := m.TypeForOID(a.oid)
		if !ok {
			return fmt.Errorf("pgx knows no type of oid %d", a.oid)
		}
		m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: wholeArrayCodec{Codec: t.Codec, elem: a.elem, jsonb: a.jsonb}})
	}
	return nil
}

// wholeArrayCodec is pgx's codec of a json[] or jsonb[] array, but for the
// binary encoding of a [][]byte, which it writes itself (see RegisterTypes).
type wholeArrayCodec struct {
	pgtype.Codec
	elem  uint32 // the element type's oid
	jsonb bool
}

func (c wholeArrayCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.([][]byte); ok && format == pgtype.BinaryFormatCode {
		return c
	}
	return c.Codec.PlanEncode(m, oid, format, value)
}

// Encode writes the binary array format PostgreSQL's array_recv reads, as
// pgx's ArrayCodec does: one dimension (an empty array too), a flag for
// NULLs, the element type, the length and lower bound (1) of the dimension,
// then each element as its length (-1 for NULL) and its bytes; a jsonb
// element's bytes start with the format version, 1.
func (c wholeArrayCodec) Encode(value any, buf []byte) ([]byte, error) {
	elems := value.([][]byte)
	if elems == nil {
		return nil, nil // NULL, as pgx encodes a nil slice
	}
	size, hasNull := 20, int32(0)
	for _, e := range elems {
		size += 4
		if e == nil {
			hasNull = 1
			continue
		}
		if c.jsonb {
			size++
		}
		size += len(e)
	}
	if len(elems) > math.MaxInt32 {
		return nil, fmt.Errorf("%d elements: more than an array holds", len(elems))
	}
	buf = slices.Grow(buf, size)
	buf = binary.BigEndian.AppendUint32(buf, 1) // one dimension, empty or not
	buf = binary.BigEndian.AppendUint32(buf, uint32(hasNull))
	buf = binary.BigEndian.AppendUint32(buf, c.elem)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(elems)))
	buf = binary.BigEndian.AppendUint32(buf, 1)
	for _, e := range elems {
		if e == nil {
			buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32) // -1
			continue
		}
		n := len(e)
		if c.jsonb {
			n++
		}
		if n > math.MaxInt32 {
			return nil, fmt.Errorf("an element of %d bytes: more than PostgreSQL takes", n)
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(n))
		if c.jsonb {
			buf = append(buf, 1)
		}
		buf = append(buf, e...)
	}
	return buf, nil
}
