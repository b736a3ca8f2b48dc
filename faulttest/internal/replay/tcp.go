package replay

import "github.com/gofaults/faults/internal/split"

// tcpProtocol replays raw bytes: the client's chunks as they were
// captured, nothing owed an answer; the server's bytes are read and
// dropped.
type tcpProtocol struct{}

func (tcpProtocol) name() string                   { return "tcp" }
func (tcpProtocol) splitter() split.Splitter       { return nil }
func (tcpProtocol) newSession(Credentials) session { return tcpSession{} }

type tcpSession struct{}

func (tcpSession) client([]byte) (msgKind, string, any)     { return msgPlain, "", nil }
func (tcpSession) sent(*Step)                               {}
func (tcpSession) server([]byte, int) (bool, string, error) { return false, "", nil }
func (tcpSession) login(*liveConn, *Script) error           { return nil }
func (tcpSession) rewrite(b []byte) []byte                  { return b }
