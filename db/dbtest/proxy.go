package dbtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy stands between a test's code and PostgreSQL, so that the test can
// take the database away (every connection cut, new ones refused) and bring
// it back, as an outage would.
type Proxy struct {
	listener net.Listener
	target   string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards each connection to
// the host of databaseURL. URL is databaseURL through the proxy. The proxy
// stops when the test ends.
func NewProxy(t testing.TB, databaseURL string) *Proxy {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("dbtest: proxy: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dbtest: proxy: %v", err)
	}
	p := &Proxy{listener: l, target: u.Host, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		l.Close()
		p.SetDown(true)
		p.wg.Wait()
	})
	return p
}

// URL is databaseURL with its host replaced by the proxy's.
func (p *Proxy) URL(databaseURL string) string {
	u, _ := url.Parse(databaseURL)
	u.Host = p.listener.Addr().String()
	return u.String()
}

// SetDown cuts every connection and refuses new ones, or lets them through.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *Proxy) accept() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		if !down {
			p.conns[client] = struct{}{}
		}
		p.mu.Unlock()
		if down {
			client.Close()
			continue
		}
		p.wg.Go(func() { p.pipe(client) })
	}
}

func (p *Proxy) pipe(client net.Conn) {
	defer p.forget(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[server] = struct{}{}
	p.mu.Unlock()
	defer p.forget(server)
	var copies sync.WaitGroup
	done := make(chan struct{}, 2)
	copies.Go(func() { io.Copy(server, client); done <- struct{}{} })
	copies.Go(func() { io.Copy(client, server); done <- struct{}{} })
	<-done
	// Closing both ends ends the other copy.
	server.Close()
	client.Close()
	copies.Wait()
}

func (p *Proxy) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}
