//go:build !linux

package faults

import (
	"errors"
	"net"

	"github.com/gofaults/faults/internal/tcpcap"
)

// teeSplices reports whether this platform splices captured connections:
// elsewhere than on Linux they are copied through a buffer.
const teeSplices = false

func teeSplice(dst, src *net.TCPConn, n int64, tap *capturedConn, side tcpcap.Side) (int64, error) {
	return 0, errors.ErrUnsupported
}
