package stripesync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedNATS is a NATS server with JetStream running inside dev, its file
// store in storeDir, so that streams, the processor's consumer and the
// syncer's checkpoints survive a restart.
type embeddedNATS struct {
	srv *server.Server
}

// startNATS starts the server on addr (host:port) and waits until it takes
// clients. Its log goes to logFile.
func startNATS(addr, storeDir, logFile string) (*embeddedNATS, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portStr, err)
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "stripesync-dev",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true, // dev handles the signals
		LogFile:    logFile,
		Logtime:    true,
		// The monitoring, cluster and other listeners stay off.
	})
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	srv.ConfigureLogger()
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("nats server: not ready after 30s; see " + logFile)
	}
	return &embeddedNATS{srv: srv}, nil
}

// ClientURL is the URL the services connect to.
func (n *embeddedNATS) ClientURL() string { return n.srv.ClientURL() }

// Run waits until ctx is done, then shuts the server down: JetStream
// flushes its store.
func (n *embeddedNATS) Run(ctx context.Context) error {
	<-ctx.Done()
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	return nil
}
