// Package eventstest runs a JetStream server inside a test and builds
// realistic, signed Stripe events for tests.
package eventstest

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
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
// shuts every server down when the test ends. Each server routes to all
// the others: a JetStream cluster needs its routes configured, so the
// route ports are taken free beforehand (FreeAddr).
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	routes := make([]*url.URL, n)
	ports := make([]int, n)
	for i := range n {
		addr := FreeAddr(t)
		routes[i] = &url.URL{Scheme: "nats", Host: addr}
		_, port, _ := net.SplitHostPort(addr)
		ports[i], _ = strconv.Atoi(port)
	}
	c := &Cluster{}
	for i := range n {
		opts := natstest.DefaultTestOptions // a copy: never mutate the package variable
		opts.Port = -1
		opts.JetStream = true
		opts.StoreDir = t.TempDir()
		opts.ServerName = fmt.Sprintf("n%d", i+1)
		opts.Cluster.Name = "stripesync-test"
		opts.Cluster.Host = "127.0.0.1"
		opts.Cluster.Port = ports[i]
		opts.Routes = routes
		// Started without natstest.RunServer's wait: a clustered server is
		// ready only once its peers are up. The server keeps the options
		// it is given and writes to them as it starts (the port it took),
		// so it gets a copy of its own.
		s := &Server{opts: opts}
		ns, err := server.NewServer(&opts)
		if err != nil {
			t.Fatalf("cluster server %d: %v", i+1, err)
		}
		s.Server = ns
		go ns.Start()
		t.Cleanup(s.Stop)
		c.Servers = append(c.Servers, s)
	}
	for i, s := range c.Servers {
		if !s.ReadyForConnections(30 * time.Second) {
			t.Fatalf("cluster server %d not ready in 30s", i+1)
		}
		s.opts.Port = s.Addr().(*net.TCPAddr).Port
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

// ready reports whether a server leads the cluster's meta group and sees
// all n servers as its peers (only the leader answers that), and every
// server is current with it.
func (c *Cluster) ready(n int) bool {
	leader := false
	for _, s := range c.Servers {
		if !s.Running() || !s.JetStreamIsCurrent() {
			return false
		}
		if s.JetStreamIsLeader() {
			leader = len(s.JetStreamClusterPeers()) == n
		}
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
