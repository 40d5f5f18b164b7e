package stripesync

import (
	"fmt"
	"net"
)

// pickAddr returns addr when it can be bound now, and otherwise the same
// host with a port the system picks; port 0 always gets one. taken reports
// that addr's own port was in use. The port is released before returning,
// for the service to bind it: another program could take it in between,
// and the service would then stop at start, naming the address.
func pickAddr(addr string) (picked string, taken bool, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if port == "0" {
			return "", false, fmt.Errorf("listen %s: %w", addr, err)
		}
		taken = true
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			return "", false, fmt.Errorf("listen %s: %w", net.JoinHostPort(host, "0"), err)
		}
	}
	defer ln.Close()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort(host, port), taken, nil
}

// localURL is the http URL of a listen address, 127.0.0.1 standing for
// every interface.
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
