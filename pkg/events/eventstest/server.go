// Package eventstest runs a JetStream server inside a test and builds
// realistic, signed Stripe events for tests.
package eventstest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

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

// Cluster is a JetStream cluster of servers owned by one test, each on free
// loopback ports (client and route) with its own store.
type Cluster struct {
	Servers []*Server
}

// RunCluster starts a JetStream cluster of n servers and waits until it
// has elected its meta leader, so that streams can be created at once; it
// shuts every server down when the test ends. Each server routes to the
// first, and learns of the others from it.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	var seed *url.URL
	for i := range n {
		opts := natstest.DefaultTestOptions // a copy: never mutate the package variable
		opts.Port = -1
		opts.JetStream = true
		opts.StoreDir = t.TempDir()
		opts.ServerName = fmt.Sprintf("n%d", i+1)
		opts.Cluster.Name = "stripesync-test"
		opts.Cluster.Host = "127.0.0.1"
		opts.Cluster.Port = -1
		if seed != nil {
			opts.Routes = []*url.URL{seed}
		}
		s := &Server{Server: natstest.RunServer(&opts), opts: opts}
		s.opts.Port = s.Addr().(*net.TCPAddr).Port
		t.Cleanup(s.Stop)
		if seed == nil {
			seed = &url.URL{Scheme: "nats", Host: s.ClusterAddr().String()}
		}
		c.Servers = append(c.Servers, s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !c.ready(n) {
		if time.Now().After(deadline) {
			t.Fatalf("JetStream cluster of %d servers elected no meta leader in 30s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// ready reports whether every server sees the others and one leads.
func (c *Cluster) ready(n int) bool {
	leader := false
	for _, s := range c.Servers {
		if !s.Running() || len(s.JetStreamClusterPeers()) < n {
			return false
		}
		leader = leader || s.JetStreamIsLeader()
	}
	return leader
}

// ClientURLs are the servers' client URLs, comma separated, as NATS_URL
// takes them.
func (c *Cluster) ClientURLs() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}
