// Package eventstest runs a JetStream server inside a test and builds
// realistic, signed Stripe events for tests.
package eventstest

import (
	"net"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	natstest "github.com/nats-io/nats-server/v2/test"
)

// Server is a JetStream server owned by one test.
type Server struct {
	*server.Server
	opts server.Options
}

// RunServer starts a JetStream server on a free loopback port with its store
// in a temporary directory, and shuts it down when the test ends.
func RunServer(t testing.TB) *Server {
	t.Helper()
	opts := natstest.DefaultTestOptions // a copy: never mutate the package variable
	opts.Port = -1
	opts.JetStream = true
	opts.StoreDir = t.TempDir()
	s := &Server{Server: natstest.RunServer(&opts), opts: opts}
	s.opts.Port = s.Addr().(*net.TCPAddr).Port
	t.Cleanup(s.Stop)
	return s
}

// Stop shuts the server down and waits until it is gone. Clients see the
// connection drop and start reconnecting.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts the server again on the same port with the same store, as
// after a crash or a deploy; streams and consumers are kept.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	opts := s.opts
	s.Server = natstest.RunServer(&opts)
}
