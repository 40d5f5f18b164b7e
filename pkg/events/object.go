package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stripesync/stripesync/pkg/catalog"
)

// ObjectSubjectPrefix starts the subject of every object fetched from the
// Stripe API (by the syncer's backfills), for example
// "stripe.object.customer". Objects go through the same stream as events so
// that the processor stays the only writer and one version rule orders both.
const ObjectSubjectPrefix = "stripe.object."

// ObjectSubject is the subject an object of res is published on.
func ObjectSubject(res *catalog.Resource) string { return ObjectSubjectPrefix + res.Object }

// Headers of an object message.
const (
	// HeaderAccount is the connected account the object belongs to; absent
	// for the platform's own objects.
	HeaderAccount = "Stripe-Account"
	// HeaderFetchedAt is when the request that returned the object was sent,
	// RFC 3339 with nanoseconds: the object's state is at least that new.
	HeaderFetchedAt = "Stripesync-Fetched-At"
	// HeaderLivemode is "true" for live-mode objects.
	HeaderLivemode = "Stripesync-Livemode"
	// HeaderParent is the id of the object whose nested list held this one
	// (catalog.Resource.Parent), for example the invoice of an invoice line
	// item.
	HeaderParent = "Stripesync-Parent"
	// HeaderAPIVersion is the Stripe API version of the request that
	// returned the object: the shape it is rendered in.
	HeaderAPIVersion = "Stripesync-Api-Version"
)

// Object is a Stripe object as the API returned it, on its way to the
// mirror.
type Object struct {
	Resource *catalog.Resource
	ID       string
	Account  string // "" for the platform
	Livemode bool
	// FetchedAt is when the request that returned the object was sent.
	FetchedAt time.Time
	// Parent is the id of the object whose nested list held this one, for
	// the items of such lists.
	Parent string
	// APIVersion is the Stripe API version the object is rendered in (the
	// request's Stripe-Version).
	APIVersion string
	// Data is the object, verbatim.
	Data []byte
}

// BackfilledAt dates an object fetched at at for the version rule. Events
// are dated to the second, so an event of the second the request was sent
// in may be newer or older than the response. A fetched object is dated
// just before that second: an event of that second or later replaces it,
// an event of an earlier second cannot.
func BackfilledAt(at time.Time) time.Time { return at.Truncate(time.Second).Add(-time.Microsecond) }

// Msg is the message that carries o. Its message id makes a retried publish
// of the same fetch a duplicate the stream drops.
func (o Object) Msg() *nats.Msg {
	m := nats.NewMsg(ObjectSubject(o.Resource))
	m.Data = o.Data
	m.Header.Set(nats.MsgIdHdr, o.ID+"@"+strconv.FormatInt(o.FetchedAt.UnixNano(), 10))
	m.Header.Set(HeaderFetchedAt, o.FetchedAt.UTC().Format(time.RFC3339Nano))
	m.Header.Set(HeaderLivemode, strconv.FormatBool(o.Livemode))
	if o.Account != "" {
		m.Header.Set(HeaderAccount, o.Account)
	}
	if o.Parent != "" {
		m.Header.Set(HeaderParent, o.Parent)
	}
	if o.APIVersion != "" {
		m.Header.Set(HeaderAPIVersion, o.APIVersion)
	}
	return m
}

// ErrNotObject is wrapped by ParseObjectMsg when a message does not carry a
// Stripe object the mirror keeps.
var ErrNotObject = errors.New("not a Stripe object message")

// ParseObjectMsg reads an object message and checks that the object is of
// the resource its subject names.
func ParseObjectMsg(subject string, h nats.Header, data []byte) (Object, error) {
	name, ok := strings.CutPrefix(subject, ObjectSubjectPrefix)
	if !ok {
		return Object{}, fmt.Errorf("%w: subject %q", ErrNotObject, subject)
	}
	res, ok := catalog.Lookup(name)
	if !ok {
		return Object{}, fmt.Errorf("%w: %q is not a mirrored resource", ErrNotObject, name)
	}
	at, err := time.Parse(time.RFC3339Nano, h.Get(HeaderFetchedAt))
	if err != nil {
		return Object{}, fmt.Errorf("%w: header %s: %w", ErrNotObject, HeaderFetchedAt, err)
	}
	livemode, err := strconv.ParseBool(h.Get(HeaderLivemode))
	if err != nil {
		return Object{}, fmt.Errorf("%w: header %s: %w", ErrNotObject, HeaderLivemode, err)
	}
	if len(data) == 0 || data[0] != '{' {
		return Object{}, fmt.Errorf("%w: body is not a JSON object", ErrNotObject)
	}
	ref, err := catalog.ParseRef(data)
	if err != nil {
		return Object{}, fmt.Errorf("%w: %w", ErrNotObject, err)
	}
	if ref.ID == "" || (ref.Object != name && !ref.Deleted) {
		return Object{}, fmt.Errorf("%w: subject names %q, body is %q %q", ErrNotObject, name, ref.Object, ref.ID)
	}
	if res.Parent != "" && h.Get(HeaderParent) == "" {
		return Object{}, fmt.Errorf("%w: %s %s has no %s header naming its %s", ErrNotObject, name, ref.ID, HeaderParent, res.Parent)
	}
	return Object{
		Resource: res, ID: ref.ID, Account: h.Get(HeaderAccount), Livemode: livemode,
		FetchedAt: at, Parent: h.Get(HeaderParent), APIVersion: h.Get(HeaderAPIVersion), Data: data,
	}, nil
}
