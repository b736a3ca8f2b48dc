package memcache

// AppendError appends "ERROR\r\n", memcached's reply to a command it does
// not know, to dst and returns the extended slice.
func AppendError(dst []byte) []byte {
	return append(dst, "ERROR\r\n"...)
}

// AppendClientError appends "CLIENT_ERROR " msg "\r\n", the reply to a
// command memcached refuses, to dst and returns the extended slice. msg,
// such as "bad command line format", is not checked: it must hold no CR
// or LF, which would end the line early.
func AppendClientError(dst []byte, msg string) []byte {
	dst = append(dst, "CLIENT_ERROR "...)
	dst = append(dst, msg...)
	return append(dst, '\r', '\n')
}

// AppendServerError appends "SERVER_ERROR " msg "\r\n", the reply to a
// command memcached fails to carry out, to dst and returns the extended
// slice. msg, such as "out of memory storing object", is not checked: it
// must hold no CR or LF.
func AppendServerError(dst []byte, msg string) []byte {
	dst = append(dst, "SERVER_ERROR "...)
	dst = append(dst, msg...)
	return append(dst, '\r', '\n')
}

// AppendEnd appends "END\r\n" to dst and returns the extended slice: the
// whole reply to a get, gets, gat or gats whose keys all miss.
func AppendEnd(dst []byte) []byte {
	return append(dst, "END\r\n"...)
}

// AppendMetaMiss appends the reply memcached sends to mg c for a miss,
// to dst, and returns the extended slice: EN, then, in the order of c's
// flags, its O flag (the opaque echoed) and its k flag (the key, as sent,
// followed by the b flag if c's key is base64), then "\r\n". For a quiet
// mg (c.Quiet) memcached sends nothing on a miss: a caller answering in
// its place writes nothing.
func AppendMetaMiss(dst []byte, c *Command) []byte {
	dst = append(dst, "EN"...)
	for _, f := range c.Flags {
		switch f[0] {
		case 'O':
			dst = append(dst, ' ')
			dst = append(dst, f...)
		case 'k':
			dst = append(dst, " k"...)
			dst = append(dst, c.Key()...)
			if c.Base64 {
				dst = append(dst, " b"...)
			}
		}
	}
	return append(dst, '\r', '\n')
}
