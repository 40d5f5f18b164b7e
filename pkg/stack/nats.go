package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// NATSCluster is a JetStream cluster of nats-server processes, each with a
// file store, client, route and monitoring port of its own. A node killed
// or stopped comes back with Restart on the same ports and store.
type NATSCluster struct {
	Nodes []*NATSNode
}

// NATSNode is one server of a NATSCluster.
type NATSNode struct {
	Name       string // server_name, as JetStream reports leaders
	ClientAddr string
	Proc       *Process
}

// NATSOptions configure StartNATSCluster.
type NATSOptions struct {
	Binary string // the nats-server binary
	Dir    string // stores, configuration files and logs go under it
	Nodes  int    // 3 unless set
	// SyncAlways fsyncs every message before it is acknowledged
	// (jetstream { sync_interval: always }).
	SyncAlways bool
}

// StartNATSCluster starts the nodes and returns once each accepts clients
// (JetStream may still be electing its meta leader).
func StartNATSCluster(ctx context.Context, o NATSOptions) (*NATSCluster, error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	type ports struct{ client, route, monitor int }
	ps := make([]ports, o.Nodes)
	for i := range ps {
		for _, p := range []*int{&ps[i].client, &ps[i].route, &ps[i].monitor} {
			port, err := FreePort()
			if err != nil {
				return nil, err
			}
			*p = port
		}
	}
	c := &NATSCluster{}
	for i := range o.Nodes {
		name := fmt.Sprintf("n%d", i+1)
		var routes []string
		for j, p := range ps {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p.route))
			}
		}
		sync := ""
		if o.SyncAlways {
			sync = "\n  sync_interval: always"
		}
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream {
  store_dir: %q%s
}
cluster {
  name: prove
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, name, ps[i].client, ps[i].monitor, filepath.Join(o.Dir, name), sync, ps[i].route, strings.Join(routes, ", "))
		confPath := filepath.Join(o.Dir, name+".conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		p, err := Start(Program{Name: "nats-" + name, Path: o.Binary, Args: []string{"-c", confPath}, Dir: o.Dir})
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, &NATSNode{Name: name, ClientAddr: fmt.Sprintf("127.0.0.1:%d", ps[i].client), Proc: p})
	}
	for _, n := range c.Nodes {
		if err := WaitTCP(ctx, n.ClientAddr, 30*time.Second); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// URLs is the comma-separated list of every node's client URL, as NATS_URL
// takes it: a client connects to any and moves to another when it goes.
func (c *NATSCluster) URLs() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = "nats://" + n.ClientAddr
	}
	return strings.Join(urls, ",")
}

// Node is the node named name, or nil.
func (c *NATSCluster) Node(name string) *NATSNode {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Restart starts n again after it exited (killed or stopped) and waits
// until it accepts clients.
func (n *NATSNode) Restart(ctx context.Context) error {
	p, err := n.Proc.Restart()
	if err != nil {
		return err
	}
	n.Proc = p
	return WaitTCP(ctx, n.ClientAddr, 30*time.Second)
}

// Stop stops every node.
func (c *NATSCluster) Stop() {
	for _, n := range c.Nodes {
		n.Proc.Stop(10 * time.Second)
	}
}
