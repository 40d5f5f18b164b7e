// Package events is the bus contract shared by the services: the JetStream
// stream and consumer definitions, the subjects, the shape of a Stripe event
// envelope as the services read it, and the registry of Stripe resources that
// the mirror keeps in their own relations.
//
// Everything that two services must agree on lives here, declared once.
package events
