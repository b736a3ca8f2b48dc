package faults

import (
	"context"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenTCP listens on addr with SO_REUSEPORT, so that the socket holding
// the port while the listener is down (see holdPort) and the listener can
// be bound to the port at the same time.
func listenTCP(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// holdPort binds a socket to addr without listening on it. While it is
// open, no other socket can take the port, unless it asks for SO_REUSEPORT
// and binds to the port by number; and a client's connect is refused
// (RST), as with no socket at all.
func holdPort(addr net.Addr) (io.Closer, error) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil, &net.AddrError{Err: "not a TCP address", Addr: addr.String()}
	}
	var (
		family = syscall.AF_INET
		sa     syscall.Sockaddr
	)
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa4 := &syscall.SockaddrInet4{Port: ta.Port}
		copy(sa4.Addr[:], ip4)
		sa = sa4
	} else {
		family = syscall.AF_INET6
		sa6 := &syscall.SockaddrInet6{Port: ta.Port}
		copy(sa6.Addr[:], ta.IP.To16())
		if ta.Zone != "" {
			if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
				sa6.ZoneId = uint32(ifi.Index)
			}
		}
		sa = sa6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return nil, err
	}
	opts := [][3]int{
		{syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1},
		{syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1},
	}
	if family == syscall.AF_INET6 && ta.IP.IsUnspecified() {
		opts = append(opts, [3]int{syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0}) // as net.Listen does
	}
	for _, o := range opts {
		if err := syscall.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
			syscall.Close(fd)
			return nil, err
		}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return heldPort(fd), nil
}

// heldPort is a bound, non-listening socket.
type heldPort int

func (h heldPort) Close() error { return syscall.Close(int(h)) }
