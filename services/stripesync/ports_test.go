package stripesync

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPickAddr(t *testing.T) {
	t.Parallel()

	t.Run("FreePortIsKept", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		picked, taken, err := pickAddr(addr)
		require.NoError(t, err)
		require.False(t, taken)
		require.Equal(t, addr, picked)
	})

	t.Run("TakenPortIsReplaced", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		picked, taken, err := pickAddr(ln.Addr().String())
		require.NoError(t, err)
		require.True(t, taken)
		require.NotEqual(t, ln.Addr().String(), picked)
		host, _, err := net.SplitHostPort(picked)
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1", host)
	})

	t.Run("PortZeroGetsOne", func(t *testing.T) {
		t.Parallel()
		picked, taken, err := pickAddr("127.0.0.1:0")
		require.NoError(t, err)
		require.False(t, taken)
		require.NotEqual(t, "127.0.0.1:0", picked)
	})

	t.Run("EveryInterfaceIsReachedOnLoopback", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "http://127.0.0.1:9473", localURL(":9473"))
		require.Equal(t, "http://127.0.0.1:9473", localURL("0.0.0.0:9473"))
		require.Equal(t, "http://[::1]:9473", localURL("[::1]:9473"))
	})
}
