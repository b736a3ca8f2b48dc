//go:build !linux

package faults

import (
	"io"
	"net"
)

// listenTCP listens on addr.
func listenTCP(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// holdPort does nothing on this system: the port is free while the
// listener is down, and listening again is retried if it was taken.
func holdPort(net.Addr) (io.Closer, error) { return nil, nil }
