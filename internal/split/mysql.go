package split

// MySQL returns a Splitter of the MySQL protocol, uncompressed and in
// clear: a message is a packet, both ways.
func MySQL() Splitter { return new(mysqlSplitter) }

type mysqlSplitter struct {
	side [2]lengthPrefixed
}

func (s *mysqlSplitter) Split(ends []int, from Side, b []byte) ([]int, error) {
	l := &s.side[from]
	for off := 0; off < len(b); {
		n, ended, _ := l.next(b[off:], 4, mysqlPacketSize)
		off += n
		if ended {
			ends = append(ends, off)
		}
	}
	return ends, nil
}

// mysqlPacketSize is the size of a packet whose header is h.
func mysqlPacketSize(h []byte) (int64, error) {
	return 4 + (int64(h[0]) | int64(h[1])<<8 | int64(h[2])<<16), nil
}

// lengthPrefixed frames messages whose first bytes say how long they are.
type lengthPrefixed struct {
	head [8]byte // the first bytes of the message, its header once whole
	have int     // how many of them
	left int64   // bytes of the current message still to come, past its header
}

// next takes the bytes of b up to the end of the current message, whose
// header is hlen bytes long and gives the message's whole size through
// size, at least hlen. It returns how many bytes it took, and whether the
// message ended there; after a message ends, head holds its header. An
// error is size's.
func (l *lengthPrefixed) next(b []byte, hlen int, size func(h []byte) (int64, error)) (int, bool, error) {
	n := 0
	if l.have < hlen {
		n = copy(l.head[l.have:hlen], b)
		if l.have += n; l.have < hlen {
			return n, false, nil
		}
		total, err := size(l.head[:hlen])
		if err != nil {
			return n, false, err
		}
		l.left = total - int64(hlen)
		b = b[n:]
	}
	k := int(min(l.left, int64(len(b))))
	l.left -= int64(k)
	if l.left > 0 {
		return n + k, false, nil
	}
	l.have = 0
	return n + k, true, nil
}
