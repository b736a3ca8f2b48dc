package pcapng

import (
	"bufio"
	"encoding/binary"
	"io"
	"time"
)

// A Writer writes one pcapng section with one interface to an underlying
// writer, through a buffer: [Writer.Flush] pushes what is buffered. Its
// timestamps are in nanoseconds. It is not safe for concurrent use.
type Writer struct {
	w      *bufio.Writer
	dst    io.Writer // under w, for long payloads
	blk    []byte    // the block being built, reused
	failed error     // a direct write's error, which w does not know
}

// directWrite is the payload length from which a payload is written to
// the underlying writer directly rather than through the buffer.
const directWrite = 16 << 10

// NewWriter writes a section header naming app as the application that
// wrote it, and an interface of the given link type, to a buffer over w,
// and returns the Writer for the packets. Nothing reaches w before the
// first Flush or until the buffer fills.
func NewWriter(w io.Writer, linkType uint16, app string) *Writer {
	pw := &Writer{w: bufio.NewWriterSize(w, 256<<10), dst: w}
	// Section header: byte-order magic, version 1.0, section length
	// unknown (-1), options.
	b := pw.start(blockSectionHeader)
	b = binary.LittleEndian.AppendUint32(b, byteOrderMagic)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, ^uint64(0))
	b = appendOption(b, optShbUserAppl, []byte(app))
	b = appendOption(b, optEndOfOpt, nil)
	pw.finish(b)
	// Interface: link type, no snap length limit, nanoseconds.
	b = pw.start(blockInterface)
	b = binary.LittleEndian.AppendUint16(b, linkType)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = appendOption(b, optIfTsresol, []byte{9})
	b = appendOption(b, optEndOfOpt, nil)
	pw.finish(b)
	return pw
}

// start begins a block of type t in the reused buffer, its length to be
// filled in by finish.
func (pw *Writer) start(t uint32) []byte {
	b := binary.LittleEndian.AppendUint32(pw.blk[:0], t)
	return binary.LittleEndian.AppendUint32(b, 0)
}

// finish fills in the block's length, appends it again at the end, and
// buffers the block.
func (pw *Writer) finish(b []byte) {
	n := len(b) + 4
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	pw.blk = b
	pw.w.Write(b) // a bufio.Writer's error sticks: Flush reports it
}

// appendOption appends an option with its value padded to 32 bits.
func appendOption(b []byte, code uint16, value []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(value)))
	b = append(b, value...)
	return append(b, make([]byte, pad4(len(value))-len(value))...)
}

// maxOption is the longest value an option can hold.
const maxOption = 0xffff

// WritePacket buffers an enhanced packet block captured at t, whose bytes
// are the concatenation of parts, with comments as its comment options
// (each cut to 65,535 bytes). It returns the error of an earlier write, if
// any.
func (pw *Writer) WritePacket(t time.Time, comments []string, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := pw.start(blockEnhancedPacket)
	b = binary.LittleEndian.AppendUint32(b, 0) // interface
	ts := uint64(t.UnixNano())
	b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	// The packet's bytes go straight to the buffer, not through the
	// block: the block's length is known in advance.
	total := len(b) + pad4(n) + optionsLen(comments) + 4
	binary.LittleEndian.PutUint32(b[4:], uint32(total))
	pw.w.Write(b)
	for _, p := range parts {
		if len(p) >= directWrite && pw.w.Flush() == nil {
			// A long payload goes straight to the writer, not copied
			// through the buffer first.
			if _, err := pw.dst.Write(p); err != nil {
				pw.failed = err
				return err
			}
			continue
		}
		pw.w.Write(p)
	}
	pw.w.Write(make([]byte, pad4(n)-n))
	b = pw.blk[:0]
	for _, c := range comments {
		b = appendOption(b, optComment, []byte(c[:min(len(c), maxOption)]))
	}
	if len(comments) > 0 {
		b = appendOption(b, optEndOfOpt, nil)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(total))
	pw.blk = b
	pw.w.Write(b)
	return pw.err()
}

// optionsLen is the length of the comment options and their end.
func optionsLen(comments []string) int {
	if len(comments) == 0 {
		return 0
	}
	n := 4
	for _, c := range comments {
		n += 4 + pad4(min(len(c), maxOption))
	}
	return n
}

// WriteStats buffers an interface statistics block at end: the interface
// ran from start to end, received received packets and dropped dropped,
// with comment if not empty.
func (pw *Writer) WriteStats(start, end time.Time, received, dropped uint64, comment string) error {
	b := pw.start(blockInterfaceStats)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = appendTimestamp(b, end)
	if comment != "" {
		b = appendOption(b, optComment, []byte(comment[:min(len(comment), maxOption)]))
	}
	b = appendOption(b, optIsbStart, appendTimestamp(nil, start))
	b = appendOption(b, optIsbEnd, appendTimestamp(nil, end))
	b = appendOption(b, optIsbIfRecv, binary.LittleEndian.AppendUint64(nil, received))
	b = appendOption(b, optIsbIfDrop, binary.LittleEndian.AppendUint64(nil, dropped))
	b = appendOption(b, optEndOfOpt, nil)
	pw.finish(b)
	return pw.err()
}

// appendTimestamp appends t in nanoseconds, high word first.
func appendTimestamp(b []byte, t time.Time) []byte {
	ts := uint64(t.UnixNano())
	b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
	return binary.LittleEndian.AppendUint32(b, uint32(ts))
}

// err returns the first write error, without writing.
func (pw *Writer) err() error {
	if pw.failed != nil {
		return pw.failed
	}
	_, err := pw.w.Write(nil)
	return err
}

// Flush writes what is buffered to the underlying writer, and returns the
// first error a write returned, now or before.
func (pw *Writer) Flush() error {
	if pw.failed != nil {
		return pw.failed
	}
	return pw.w.Flush()
}

// Buffered returns the number of bytes buffered.
func (pw *Writer) Buffered() int { return pw.w.Buffered() }
