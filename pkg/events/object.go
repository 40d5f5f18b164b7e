package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ObjectSubjectPrefix starts the subject of every object fetched from the
// Stripe API (by the syncer's backfills), for example
// "stripe.object.customer". Objects go through the same stream as events so
// that the processor stays the only writer and one version rule orders both.
const ObjectSubjectPrefix = "stripe.object."

// ObjectSubject is the subject an object named object is published on.
func ObjectSubject(object string) string { return ObjectSubjectPrefix + object }

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
	// (Resource.Parent), for example the invoice of an invoice line item.
	HeaderParent = "Stripesync-Parent"
)

// Object is a Stripe object as the API returned it, on its way to the
// mirror.
type Object struct {
	Account   string
	Livemode  bool
	FetchedAt time.Time
	// Parent is the id of the object whose nested list held this one, for
	// the items of such lists.
	Parent string
	// Data is the object, verbatim.
	Data []byte
}

// Msg is the message that carries o. ref must be o's identity. Its message
// id makes a retried publish of the same fetch a duplicate the stream drops.
func (o Object) Msg(ref ObjectRef) *nats.Msg {
	m := nats.NewMsg(ObjectSubject(ref.Object))
	m.Data = o.Data
	m.Header.Set(nats.MsgIdHdr, ref.ID+"@"+strconv.FormatInt(o.FetchedAt.UnixNano(), 10))
	m.Header.Set(HeaderFetchedAt, o.FetchedAt.UTC().Format(time.RFC3339Nano))
	m.Header.Set(HeaderLivemode, strconv.FormatBool(o.Livemode))
	if o.Account != "" {
		m.Header.Set(HeaderAccount, o.Account)
	}
	if o.Parent != "" {
		m.Header.Set(HeaderParent, o.Parent)
	}
	return m
}

// ErrNotObject is wrapped by ParseObjectMsg when a message does not carry a
// Stripe object.
var ErrNotObject = errors.New("not a Stripe object message")

// ParseObjectMsg reads an object message and checks that the object is the
// one its subject names.
func ParseObjectMsg(subject string, h nats.Header, data []byte) (Object, ObjectRef, error) {
	name, ok := strings.CutPrefix(subject, ObjectSubjectPrefix)
	if !ok {
		return Object{}, ObjectRef{}, fmt.Errorf("%w: subject %q", ErrNotObject, subject)
	}
	at, err := time.Parse(time.RFC3339Nano, h.Get(HeaderFetchedAt))
	if err != nil {
		return Object{}, ObjectRef{}, fmt.Errorf("%w: header %s: %w", ErrNotObject, HeaderFetchedAt, err)
	}
	livemode, err := strconv.ParseBool(h.Get(HeaderLivemode))
	if err != nil {
		return Object{}, ObjectRef{}, fmt.Errorf("%w: header %s: %w", ErrNotObject, HeaderLivemode, err)
	}
	if len(data) == 0 || data[0] != '{' {
		return Object{}, ObjectRef{}, fmt.Errorf("%w: body is not a JSON object", ErrNotObject)
	}
	ref, err := ParseObjectRef(data)
	if err != nil {
		return Object{}, ObjectRef{}, fmt.Errorf("%w: %w", ErrNotObject, err)
	}
	if ref.ID == "" || (ref.Object != name && !ref.Deleted) {
		return Object{}, ObjectRef{}, fmt.Errorf("%w: subject names %q, body is %q %q", ErrNotObject, name, ref.Object, ref.ID)
	}
	return Object{Account: h.Get(HeaderAccount), Livemode: livemode, FetchedAt: at, Parent: h.Get(HeaderParent), Data: data}, ref, nil
}
