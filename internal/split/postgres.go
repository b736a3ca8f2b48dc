package split

import (
	"encoding/binary"
	"fmt"

	"github.com/gofaults/faults/internal/wire/pgwire"
)

// Postgres returns a Splitter of the PostgreSQL protocol (version 3):
// the client's startup packets, the one-byte answers to encryption
// requests, then typed messages both ways. Encryption accepted, a cancel
// request or direct TLS ends the framing.
func Postgres() Splitter { return new(postgresSplitter) }

type postgresSplitter struct {
	side    [2]lengthPrefixed
	started bool // the client sent its StartupMessage: typed messages follow
	owed    int  // answers to SSLRequest or GSSENCRequest the server owes
	last    [8]byte
}

// Request codes of the untyped startup packets.
const (
	pgCancelCode = 80877102
	pgSSLCode    = 80877103
	pgGSSCode    = 80877104
)

func (s *postgresSplitter) Split(ends []int, from Side, b []byte) ([]int, error) {
	l := &s.side[from]
	for off := 0; off < len(b); {
		if l.have == 0 && from == Server && s.owed > 0 {
			// The answer to an encryption request: one byte.
			if b[off] != 'N' {
				return ends, fmt.Errorf("%w: encryption accepted (%q)", ErrUnframed, b[off])
			}
			s.owed--
			off++
			ends = append(ends, off)
			continue
		}
		if l.have == 0 && from == Client && !s.started && b[off] == pgwire.TLSHandshakeByte {
			return ends, fmt.Errorf("%w: direct TLS", ErrUnframed)
		}
		var n int
		var ended bool
		var err error
		if from == Client && !s.started {
			n, ended, err = l.next(b[off:], 8, startupSize)
		} else {
			n, ended, err = l.next(b[off:], 5, typedSize)
		}
		if err != nil {
			return ends, err
		}
		off += n
		if !ended {
			continue
		}
		ends = append(ends, off)
		if from == Client && !s.started {
			switch binary.BigEndian.Uint32(l.head[4:]) {
			case pgSSLCode, pgGSSCode:
				s.owed++
			case pgCancelCode:
				return ends, fmt.Errorf("%w: a cancel request", ErrUnframed)
			default:
				s.started = true
			}
		}
	}
	return ends, nil
}

// startupSize is the size of a startup packet whose first 8 bytes are h:
// its length counts itself.
func startupSize(h []byte) (int64, error) {
	n := binary.BigEndian.Uint32(h)
	if n < 8 || n > pgwire.MaxStartupLength {
		return 0, fmt.Errorf("%w: startup packet of length %d", pgwire.ErrMalformed, n)
	}
	return int64(n), nil
}

// typedSize is the size of a typed message whose first 5 bytes are h: a
// type byte, then a length that counts itself and not the type.
func typedSize(h []byte) (int64, error) {
	n := binary.BigEndian.Uint32(h[1:])
	if n < 4 || n > pgwire.MaxLength {
		return 0, fmt.Errorf("%w: message %q of length %d", pgwire.ErrMalformed, h[0], n)
	}
	return 1 + int64(n), nil
}
