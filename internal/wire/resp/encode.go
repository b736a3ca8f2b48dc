package resp

// AppendError appends to dst the simple error "-" text CRLF, as a server
// writes an error reply, and returns the extended slice. text is the
// error without its '-', such as "ERR unknown command"; AppendError does
// not check it: it must hold no CR or LF, which would end the error early.
func AppendError(dst []byte, text string) []byte {
	dst = append(dst, '-')
	dst = append(dst, text...)
	return append(dst, '\r', '\n')
}
