package bench

import (
	"io"
	"os"
)

// captureSinkSize bounds the capture file of a benchmark child: past it,
// the sink writes over its start, so that a long run costs what writing a
// file costs without filling the disk.
const captureSinkSize = 256 << 20

// captureSink is a capture file that wraps around at captureSinkSize and is
// removed when closed. It is on /dev/shm (tmpfs) where there is one, so
// that what a capture costs the proxy is measured, not how fast the disk
// takes the file: a virtual machine's disk may take less than the proxy
// moves, and the capture then leaves out what it cannot write.
type captureSink struct {
	f *os.File
	n int64
}

func newCaptureSink() (*captureSink, error) {
	dir := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir = "/dev/shm"
	}
	f, err := os.CreateTemp(dir, "faults-bench-*.pcapng")
	if err != nil {
		return nil, err
	}
	return &captureSink{f: f}, nil
}

func (s *captureSink) Write(b []byte) (int, error) {
	if s.n+int64(len(b)) > captureSinkSize {
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		s.n = 0
	}
	n, err := s.f.Write(b)
	s.n += int64(n)
	return n, err
}

func (s *captureSink) Close() error {
	err := s.f.Close()
	os.Remove(s.f.Name())
	return err
}
