//go:build linux

package faults

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/gofaults/faults/internal/tcpcap"
	"golang.org/x/sys/unix"
)

// A captured connection is spliced too: the bytes go from the source
// socket into a pipe, tee(2) duplicates them into a second pipe, from
// which the capture reads its copy, and only then do they go on from the
// first pipe to the destination (so that what reaches the client is
// recorded before it is written, as capturedConn.Write does). The
// relayed bytes never enter user space; the capture's copy is the only
// one made.

const (
	spliceFlags = unix.SPLICE_F_MOVE | unix.SPLICE_F_NONBLOCK
	teePipeSize = 1 << 20 // as Go's own splice pipes: one call moves up to 1 MiB
)

// teeSplices reports whether this platform splices captured connections.
const teeSplices = true

// teePipes are the two pipes of a captured splice: through carries the
// bytes from source to destination, copy the capture's duplicate. Each
// is a read end and a write end. Both are empty between calls.
type teePipes struct {
	through, copy [2]int
}

var teePool sync.Pool // of *teePipes

// getTeePipes returns an empty pair of pipes, from the pool or new; a
// pair the pool drops is closed by the garbage collector.
func getTeePipes() (*teePipes, error) {
	if p, ok := teePool.Get().(*teePipes); ok {
		return p, nil
	}
	p := new(teePipes)
	if err := newPipe(&p.through); err != nil {
		return nil, err
	}
	if err := newPipe(&p.copy); err != nil {
		closeFDs(p.through)
		return nil, err
	}
	runtime.AddCleanup(p, func(fds [4]int) {
		closeFDs([2]int{fds[0], fds[1]})
		closeFDs([2]int{fds[2], fds[3]})
	}, [4]int{p.through[0], p.through[1], p.copy[0], p.copy[1]})
	return p, nil
}

// newPipe makes a non-blocking pipe of teePipeSize, or of the system's
// default size if it may not grow.
func newPipe(fds *[2]int) error {
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return os.NewSyscallError("pipe2", err)
	}
	unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, teePipeSize)
	return nil
}

func closeFDs(fds [2]int) {
	unix.Close(fds[0])
	unix.Close(fds[1])
}

// teeSplice moves up to n bytes from src to dst as dst.ReadFrom would
// from an io.LimitedReader of n, recording each piece for tap as sent by
// side before it goes to dst; when src is the client, its end (a FIN or
// a reset) is recorded too. It returns the bytes moved: fewer than n with
// a nil error at src's EOF. It honours src's read deadline while it waits
// for bytes, as ReadFrom does. The capture reads its copy into its own
// buffer: the bytes are copied once.
func teeSplice(dst, src *net.TCPConn, n int64, tap *capturedConn, side tcpcap.Side) (int64, error) {
	srcRaw, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	dstRaw, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	p, err := getTeePipes()
	if err != nil {
		return 0, err
	}
	var moved int64
	for moved < n {
		in, err := p.fill(srcRaw, min(n-moved, teePipeSize))
		if side == tcpcap.Client {
			if in == 0 && err == nil {
				tap.noteReadEnd(io.EOF)
			} else {
				tap.noteReadEnd(err)
			}
		}
		if in == 0 || err != nil {
			teePool.Put(p) // nothing entered the pipes
			return moved, err
		}
		if err := p.duplicate(in); err != nil {
			return moved, err // the pipes hold bytes: the collector closes them
		}
		if err := p.record(in, tap, side); err != nil {
			return moved, err
		}
		if err := p.flush(dstRaw, in); err != nil {
			return moved, err
		}
		moved += in
	}
	teePool.Put(p)
	return moved, nil
}

// fill splices up to max bytes from the socket into through, waiting for
// them as a read would. It returns 0 and no error at EOF.
func (p *teePipes) fill(src syscall.RawConn, max int64) (int64, error) {
	var n int64
	var serr error
	err := src.Read(func(fd uintptr) bool {
		for {
			n, serr = unix.Splice(int(fd), nil, p.through[1], nil, int(max), spliceFlags)
			if serr != unix.EINTR {
				return serr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, os.NewSyscallError("splice", serr)
	}
	return n, nil
}

// duplicate tees the n bytes in through into copy, which is empty.
func (p *teePipes) duplicate(n int64) error {
	for n > 0 {
		k, err := unix.Tee(p.through[0], p.copy[1], int(n), unix.SPLICE_F_NONBLOCK)
		if retry, err := pipeCall("tee", int(k), err); err != nil {
			return err
		} else if retry {
			continue
		}
		n -= k
	}
	return nil
}

// record reads the n bytes in copy into the capture, as sent by side, in
// records of at most largeBuffer bytes (the most a record left out takes
// of scratch space).
func (p *teePipes) record(n int64, tap *capturedConn, side tcpcap.Side) error {
	for n > 0 {
		k := int(min(n, largeBuffer))
		if _, err := tap.cap.recordFill(tap.side, captureItem{kind: capData, side: side}, false, k, p.readCopy); err != nil {
			return err
		}
		n -= int64(k)
	}
	return nil
}

// readCopy reads len(b) bytes from copy, which holds them.
func (p *teePipes) readCopy(b []byte) error {
	for len(b) > 0 {
		k, err := unix.Read(p.copy[0], b)
		if retry, err := pipeCall("read", k, err); err != nil {
			return err
		} else if retry {
			continue
		}
		b = b[k:]
	}
	return nil
}

// pipeCall says what a call op that moved k bytes out of a pipe holding
// more, and returned err, means: try again (interrupted), or an error
// (none moved counts as one: the bytes are there).
func pipeCall(op string, k int, err error) (retry bool, _ error) {
	switch {
	case err == unix.EINTR:
		return true, nil
	case err != nil:
		return false, os.NewSyscallError(op, err)
	case k == 0:
		return false, os.NewSyscallError(op, unix.EIO)
	}
	return false, nil
}

// flush splices the n bytes in through to the socket, waiting for room
// as a write would.
func (p *teePipes) flush(dst syscall.RawConn, n int64) error {
	var serr error
	err := dst.Write(func(fd uintptr) bool {
		for n > 0 {
			k, err := unix.Splice(p.through[0], nil, int(fd), nil, int(n), spliceFlags)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return false
			case err != nil:
				serr = err
				return true
			}
			n -= k
		}
		return true
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("splice", serr)
	}
	return nil
}
