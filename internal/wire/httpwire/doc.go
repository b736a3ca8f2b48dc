// Package httpwire frames HTTP/1.1 (RFC 9112) over bytes: where each
// request and response head ends and how its body is delimited, decoded no
// further than that. It knows nothing of proxies, connections or faults;
// callers read heads with a [Framer] (or [ReadRequestHead] and
// [ReadResponseHead]), forward bodies with [CopyBody] and edit heads with
// [WithoutHeader].
//
// The framer never rewrites a byte: a head's raw bytes and a body's bytes
// (chunk-size lines, extensions, trailers included) are passed on exactly as
// received.
//
// Heads are read with [Reader.Peek] and consumed only when complete and
// valid, so that anything the framer refuses is still in the reader for the
// caller to pass through raw. Parsing is strict wherever a lenient reading
// could frame a message differently from the peer (line endings inside a
// line, obs-fold, whitespace before a colon, conflicting lengths) and
// lenient only where RFC 9112 allows it (bare LF line endings, empty lines
// before a request line, optional whitespace around a chunk extension,
// repeated identical Content-Length values).
package httpwire
