package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Listing markers: the syncer's backfill, around a complete listing of an
// account's resources (a backfill without since, catalog.Listing.Complete),
// puts a "listing started" on the stream before the listing's first object
// and a "listing complete" after its last, so that the processor, the only
// writer, can reconcile the mirror with what Stripe returned (README
// "Reconciliation"). A nested list paged to its end gets a "list complete"
// with its parent's item ids.
const (
	// ListingSubjectPrefix starts the subject of every listing marker.
	ListingSubjectPrefix = "stripe.listing."
	// ListingStartedSubject carries a ListingStarted.
	ListingStartedSubject = ListingSubjectPrefix + "started"
	// ListingCompleteSubject carries a ListingComplete.
	ListingCompleteSubject = ListingSubjectPrefix + "complete"
	// ListCompleteSubject carries a ListComplete.
	ListCompleteSubject = ListingSubjectPrefix + "list_complete"
)

// ListingStarted says that run starts a complete listing of Objects
// (catalog object names) for Account.
type ListingStarted struct {
	Run     string   `json:"run"`
	Account string   `json:"account,omitempty"` // "" for the platform
	Objects []string `json:"objects"`
}

// ListingComplete says that run listed, for Account, each of Listed
// completely, and what the listing returned.
type ListingComplete struct {
	Run     string           `json:"run"`
	Account string           `json:"account,omitempty"`
	Listed  []ListedResource `json:"listed"`
}

// ListedResource is what a complete listing of one resource returned: how
// many objects, and the xor of the 48-bit hashes of their ids (catalog.IDHash).
type ListedResource struct {
	Object  string `json:"object"`
	Objects int64  `json:"objects"`
	Digest  uint64 `json:"digest"`
}

// ListComplete says that the nested list of Parent, in the state fetched
// at FetchedAt, held exactly Items, of the item objects Objects.
type ListComplete struct {
	Run       string    `json:"run"`
	Account   string    `json:"account,omitempty"`
	Objects   []string  `json:"objects"`
	Parent    string    `json:"parent"`
	FetchedAt time.Time `json:"fetched_at"`
	Items     []string  `json:"items"`
}

// Msg is the message that carries s; its id makes a retried publish a
// duplicate.
func (s ListingStarted) Msg() (*nats.Msg, error) {
	return markerMsg(ListingStartedSubject, "listing.started."+s.Run+"."+s.Account, s)
}

// Msg is the message that carries c.
func (c ListingComplete) Msg() (*nats.Msg, error) {
	return markerMsg(ListingCompleteSubject, "listing.complete."+c.Run+"."+c.Account, c)
}

// Msg is the message that carries c.
func (c ListComplete) Msg() (*nats.Msg, error) {
	return markerMsg(ListCompleteSubject, "list.complete."+c.Run+"."+c.Parent+"."+strings.Join(c.Objects, ","), c)
}

func markerMsg(subject, id string, v any) (*nats.Msg, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(subject)
	m.Data = body
	m.Header.Set(nats.MsgIdHdr, id)
	return m, nil
}

// ErrNotMarker is wrapped by ParseMarker when a message on a listing
// subject cannot be read.
var ErrNotMarker = errors.New("not a listing marker")

// ParseMarker reads a listing marker: a ListingStarted, ListingComplete or
// ListComplete, by its subject.
func ParseMarker(subject string, data []byte) (any, error) {
	var v any
	switch subject {
	case ListingStartedSubject:
		v = &ListingStarted{}
	case ListingCompleteSubject:
		v = &ListingComplete{}
	case ListCompleteSubject:
		v = &ListComplete{}
	default:
		return nil, fmt.Errorf("%w: subject %q", ErrNotMarker, subject)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotMarker, subject, err)
	}
	var run string
	switch m := v.(type) {
	case *ListingStarted:
		run = m.Run
		v = *m
	case *ListingComplete:
		run = m.Run
		v = *m
	case *ListComplete:
		run = m.Run
		if m.Parent == "" {
			return nil, fmt.Errorf("%w: %s names no parent", ErrNotMarker, subject)
		}
		v = *m
	}
	if run == "" {
		return nil, fmt.Errorf("%w: %s names no run", ErrNotMarker, subject)
	}
	return v, nil
}
