package catalog

import (
	"crypto/md5"
	"encoding/binary"
)

// IDHash is a 48-bit hash of an object id, stripe.id_hash in the mirror
// (migration 0013): the first 48 bits of its md5. The xor of the hashes of
// a set of ids is the set's digest, independent of order: the syncer
// computes it over a listing as it pages, PostgreSQL over a relation, and
// the two compare without either holding the ids. 48 bits, so that a
// digest is exact as a Prometheus sample (a float64 holds 53).
func IDHash(id string) uint64 {
	sum := md5.Sum([]byte(id))
	var b [8]byte
	copy(b[2:], sum[:6])
	return binary.BigEndian.Uint64(b[:])
}
