// Package events is the bus contract shared by the services: the JetStream
// stream and consumer definitions, the subjects, the shape of a Stripe event
// envelope as the services read it, the messages that carry events and
// objects and the one way to publish them, the sync request, and the
// syncer's key-value state. What the system knows about each Stripe
// resource is in package catalog.
//
// Everything that two services must agree on lives here, declared once.
package events
