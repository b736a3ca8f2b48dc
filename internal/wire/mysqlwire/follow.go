package mysqlwire

import "fmt"

// maxColumns bounds a result set's column count (MySQL and MariaDB
// allow 4096 columns in a table; a result set of expressions is bounded
// by the statement's length, so this is only a sanity check).
const maxColumns = 1 << 16

// State is where a [Follower] is in a response: the message due next.
type State uint8

// The states of a Follower. Each names the message due next; an ERR
// from the server (first byte 0xff) ends the response in every state where
// a server message is due, except MariaDB's progress reports (ERR numbered
// 0xFFFF, sent while a statement runs), which change nothing.
const (
	// StateResult: the first message of a result: OK (the response ends,
	// unless its status has SERVER_MORE_RESULTS_EXISTS: StateResult again),
	// a LOCAL INFILE request (0xfb: StateInfileData) or a column count
	// (StateColumns; under MariaDB's cache-metadata capability the count is
	// followed by a byte that, if 0, says the column definitions are not
	// sent: StateColumnsEnd, or StateRows under CLIENT_DEPRECATE_EOF).
	StateResult State = iota
	// StateColumns: column definitions, count of them left; then
	// StateColumnsEnd, or under CLIENT_DEPRECATE_EOF directly StateRows (done,
	// for the column definitions of a COM_STMT_PREPARE).
	StateColumns
	// StateColumnsEnd: the EOF after column definitions (no
	// CLIENT_DEPRECATE_EOF); then StateRows, or done if its status has
	// SERVER_STATUS_CURSOR_EXISTS (COM_STMT_EXECUTE opened a cursor) or
	// the definitions were a COM_STMT_PREPARE's.
	StateColumnsEnd
	// StateRows: rows, text or binary, until the packet ending the result
	// set: 0xfe with a payload shorter than 9 bytes (EOF), or under
	// CLIENT_DEPRECATE_EOF shorter than MaxPayload (OK). A row can
	// start with 0xfe only as the 8-byte length of a value of at least
	// 2^24 bytes, in a first packet of exactly MaxPayload bytes. The
	// status flags of that last packet say whether another result follows
	// (SERVER_MORE_RESULTS_EXISTS: StateResult) or the response is done. The
	// definitions of COM_FIELD_LIST and the rows of COM_STMT_FETCH are
	// followed here too, and end the response with that packet.
	StateRows
	// StateInfileData: the client's file, in packets until an empty one
	// (that is not the continuation of a full one); then StateInfileReply.
	StateInfileData
	// StateInfileReply: the server's OK or ERR for the file; OK with
	// SERVER_MORE_RESULTS_EXISTS goes on with StateResult.
	StateInfileReply
	// StatePrepareOK: COM_STMT_PREPARE_OK, then StateParams if the statement has
	// parameters, else StateColumns if it has columns, else done.
	StatePrepareOK
	// StateParams: parameter definitions, count of them left; then
	// StateParamsEnd, or under CLIENT_DEPRECATE_EOF the columns (or done).
	StateParams
	// StateParamsEnd: the EOF after parameter definitions (no
	// CLIENT_DEPRECATE_EOF); then StateColumns if the statement has
	// columns, else done.
	StateParamsEnd
	// StateSingle: one message of any kind, then done.
	StateSingle
	// StateAuthServer: the server's next message of an authentication
	// exchange: OK or ERR (done); an auth switch request (0xfe) or more
	// auth data (0x01) for the client (StateAuthClient), except 0x01 0x03,
	// caching_sha2_password's "fast auth succeeded", after which the
	// server sends OK (StateAuthServer).
	StateAuthServer
	// StateAuthClient: the client's next message of an authentication
	// exchange; then StateAuthServer.
	StateAuthClient
	// StateDone: the response is complete.
	StateDone
	// StateFailed: the messages were not a response of the kind followed;
	// the connection can only go on raw.
	StateFailed
)

var stateNames = [...]string{
	"result", "columns", "columns-end", "rows", "infile-data", "infile-reply",
	"prepare-ok", "params", "params-end", "single", "auth-server", "auth-client",
	"done", "failed",
}

// String returns s's short name, such as "rows".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Follower follows a server's response to one command, packet by
// packet, and tells when it is complete, from the start of each payload
// (see HeadLen) and its length. During a LOCAL INFILE transfer and an
// authentication exchange it also follows the client's packets.
//
// The packets of a message after a full one (MaxPayload bytes) are its
// continuation and are not classified. Sequence ids are the caller's to
// check.
//
// A session with MySQL 8's CLIENT_OPTIONAL_RESULTSET_METADATA is not
// followed (its results and COM_STMT_PREPARE_OK carry a metadata flag this
// follower does not read); a proxy clears that capability from the
// greeting (see [Unfollowed]). MariaDB's MARIADB_CLIENT_CACHE_METADATA is
// followed.
//
// A Follower is a value with no references to the bytes it was given;
// copying it copies its state. It is not safe for concurrent use.
//
// The zero Follower is done; start one with [NewFollower].
type Follower struct {
	state        State
	resp         Response
	deprecateEOF bool
	metaFlag     bool   // a column count is followed by a "metadata follows" byte
	count        uint64 // definitions left in StateColumns and StateParams
	columns      uint16 // a prepared statement's columns, after its parameters
	serverCont   bool   // the server's last packet was full: its message goes on
	clientCont   bool   // the client's last packet was full: its message goes on
	status       uint16 // status flags of the last OK or EOF
	err          error  // why StateFailed
}

// NewFollower returns a follower of a response of shape resp in session
// s. A ResponseNone response is done at once; a ResponseUnknown one has
// failed at once, as has any in a session with
// ClientOptionalResultsetMetadata.
func NewFollower(resp Response, s Session) Follower {
	f := Follower{
		resp:         resp,
		deprecateEOF: s.Capabilities&ClientDeprecateEOF != 0,
		metaFlag:     s.MariaDBCapabilities&MariaDBClientCacheMetadata != 0,
	}
	switch resp {
	case ResponseNone:
		f.state = StateDone
	case ResponseSingle:
		f.state = StateSingle
	case ResponseResult:
		f.state = StateResult
	case ResponsePrepare:
		f.state = StatePrepareOK
	case ResponseFieldList, ResponseFetch:
		f.state = StateRows
	case ResponseAuth:
		f.state = StateAuthServer
	default:
		f.fail(malformed("no follower for a response of shape %v", resp))
	}
	if s.Capabilities&ClientOptionalResultsetMetadata != 0 && f.state != StateFailed {
		f.fail(malformed("CLIENT_OPTIONAL_RESULTSET_METADATA sessions are not followed"))
	}
	return f
}

// Done reports whether the response is complete: its last packet has
// been followed, and it was not a full packet whose message goes on.
func (f *Follower) Done() bool { return f.state == StateDone && !f.serverCont && !f.clientCont }

// Err returns why the packets were not a response of the kind followed
// (an error wrapping ErrMalformed, or the caller's misuse), or nil. Once
// not nil it stays so.
func (f *Follower) Err() error { return f.err }

// WantsClient reports whether the client's next packet is due (LOCAL
// INFILE data, or the client's turn in an authentication exchange) rather
// than the server's.
func (f *Follower) WantsClient() bool {
	if f.serverCont {
		return false
	}
	return f.clientCont || f.state == StateInfileData || f.state == StateAuthClient
}

// State returns where f is in the response: the message due next. Inside
// a message continued over several packets it is the state the message
// started in; see [Follower.Continued].
func (f *Follower) State() State { return f.state }

// Continued reports whether the server's last packet was full
// (MaxPayload bytes), so that its next packet continues the same message.
func (f *Follower) Continued() bool { return f.serverCont }

// Status returns the status flags (ServerStatusInTrans, ...) of the last
// OK or EOF packet followed, or 0 if none has been (a response that ended
// with ERR before any).
func (f *Follower) Status() uint16 { return f.status }

func (f *Follower) fail(err error) error {
	f.state, f.err = StateFailed, err
	return err
}

// Server follows the server's next packet: length is its payload's
// length, head the payload's first min(length, HeadLen) bytes (or more);
// head is not retained. It returns an error wrapping ErrMalformed if the
// packet cannot come next; the follower has failed then, and stays so. A
// head shorter than that, or a length out of range, is the caller's bug:
// the follower fails with an error that does not wrap ErrMalformed.
func (f *Follower) Server(head []byte, length int) error {
	if f.state == StateFailed {
		return f.err
	}
	if length < 0 || length > MaxPayload || len(head) > length || (len(head) < length && len(head) < HeadLen) {
		return f.fail(fmt.Errorf("mysqlwire: Follower.Server: %d head bytes of a %d-byte payload", len(head), length))
	}
	if f.serverCont {
		f.serverCont = length == MaxPayload
		return nil
	}
	switch {
	case f.state == StateDone:
		return f.fail(malformed("server packet after the response ended"))
	case f.clientCont || f.state == StateInfileData || f.state == StateAuthClient:
		return f.fail(malformed("server packet while the client's was due (%v)", f.state))
	}
	f.serverCont = length == MaxPayload
	if length == 0 {
		if f.state == StateSingle {
			f.state = StateDone
			return nil
		}
		return f.fail(malformed("empty server packet (%v)", f.state))
	}
	if head[0] == 0xff {
		if length >= 3 && head[1] == 0xff && head[2] == 0xff {
			return nil // MariaDB progress report
		}
		f.state = StateDone // ERR
		return nil
	}
	switch f.state {
	case StateResult:
		return f.result(head, length)
	case StateColumns:
		f.count--
		if f.count == 0 {
			f.columnsRead()
		}
		return nil
	case StateColumnsEnd:
		_, status, ok := ParseEOF(head)
		if !ok {
			return f.fail(malformed("expected EOF after column definitions, got 0x%02x (%d bytes)", head[0], length))
		}
		f.status = status
		if f.resp == ResponsePrepare || status&ServerStatusCursorExists != 0 {
			f.state = StateDone
		} else {
			f.state = StateRows
		}
		return nil
	case StateRows:
		if head[0] != 0xfe || (f.deprecateEOF && length == MaxPayload) || (!f.deprecateEOF && length >= 9) {
			return nil // a row, or a definition of COM_FIELD_LIST
		}
		var status uint16
		if f.deprecateEOF {
			ok, valid := ParseOK(head)
			if !valid {
				return f.fail(malformed("malformed OK ending a result set"))
			}
			status = ok.Status
		} else {
			var valid bool
			if _, status, valid = ParseEOF(head); !valid {
				if length != 1 { // a 1-byte EOF has no flags
					return f.fail(malformed("malformed EOF ending a result set"))
				}
			}
		}
		f.status = status
		if f.resp == ResponseResult && status&ServerMoreResultsExist != 0 {
			f.state = StateResult
		} else {
			f.state = StateDone
		}
		return nil
	case StateInfileReply:
		ok, valid := ParseOK(head)
		if head[0] != 0x00 || !valid {
			return f.fail(malformed("expected OK or ERR after LOCAL INFILE data, got 0x%02x", head[0]))
		}
		f.okEnds(ok.Status)
		return nil
	case StatePrepareOK:
		p, ok := ParsePrepareOK(head)
		if !ok {
			return f.fail(malformed("expected COM_STMT_PREPARE_OK or ERR, got 0x%02x (%d bytes)", head[0], length))
		}
		f.columns = p.Columns
		if p.Params > 0 {
			f.state, f.count = StateParams, uint64(p.Params)
		} else {
			f.paramsRead()
		}
		return nil
	case StateParams:
		f.count--
		if f.count == 0 {
			if f.deprecateEOF {
				f.paramsRead()
			} else {
				f.state = StateParamsEnd
			}
		}
		return nil
	case StateParamsEnd:
		_, status, ok := ParseEOF(head)
		if !ok {
			return f.fail(malformed("expected EOF after parameter definitions, got 0x%02x (%d bytes)", head[0], length))
		}
		f.status = status
		f.paramsRead()
		return nil
	case StateSingle:
		f.state = StateDone
		return nil
	case StateAuthServer:
		switch head[0] {
		case 0x00:
			f.state = StateDone
		case 0xfe:
			f.state = StateAuthClient // auth switch request
		case 0x01:
			if length == 2 && head[1] == 0x03 {
				return nil // fast auth succeeded: OK follows
			}
			f.state = StateAuthClient // more auth data
		default:
			return f.fail(malformed("unexpected 0x%02x in an authentication exchange", head[0]))
		}
		return nil
	}
	return f.fail(malformed("server packet in state %v", f.state))
}

// result follows the first message of a result.
func (f *Follower) result(head []byte, length int) error {
	switch head[0] {
	case 0x00:
		ok, valid := ParseOK(head)
		if !valid {
			return f.fail(malformed("malformed OK packet"))
		}
		f.okEnds(ok.Status)
		return nil
	case 0xfb:
		f.state = StateInfileData
		return nil
	}
	n, size, ok := ParseLenEnc(head)
	if !ok || n == 0 || n > maxColumns || size > length {
		return f.fail(malformed("expected OK, ERR, LOCAL INFILE or a column count, got 0x%02x (%d bytes)", head[0], length))
	}
	if f.metaFlag {
		if size >= len(head) {
			return f.fail(malformed("column count without its metadata flag"))
		}
		if head[size] == 0 { // the client has the metadata already
			f.columnsRead()
			return nil
		}
	}
	f.state, f.count = StateColumns, n
	return nil
}

// okEnds follows an OK ending a result: another result follows if its
// status says so.
func (f *Follower) okEnds(status uint16) {
	f.status = status
	if f.resp == ResponseResult && status&ServerMoreResultsExist != 0 {
		f.state = StateResult
	} else {
		f.state = StateDone
	}
}

// columnsRead moves on after the last column definition.
func (f *Follower) columnsRead() {
	switch {
	case !f.deprecateEOF:
		f.state = StateColumnsEnd
	case f.resp == ResponsePrepare:
		f.state = StateDone
	default:
		f.state = StateRows
	}
}

// paramsRead moves on after a prepared statement's parameter definitions.
func (f *Follower) paramsRead() {
	if f.columns > 0 {
		f.state, f.count = StateColumns, uint64(f.columns)
	} else {
		f.state = StateDone
	}
}

// Client follows the client's next packet, of length bytes, while
// WantsClient. It returns an error wrapping ErrMalformed if the server's
// packet was due instead; the follower has failed then, and stays so.
func (f *Follower) Client(length int) error {
	if f.state == StateFailed {
		return f.err
	}
	if length < 0 || length > MaxPayload {
		return f.fail(fmt.Errorf("mysqlwire: Follower.Client: %d-byte payload", length))
	}
	if f.clientCont {
		f.clientCont = length == MaxPayload
		return nil
	}
	if f.serverCont || (f.state != StateInfileData && f.state != StateAuthClient) {
		return f.fail(malformed("client packet while the server's was due (%v)", f.state))
	}
	f.clientCont = length == MaxPayload
	if f.state == StateAuthClient {
		f.state = StateAuthServer
	} else if length == 0 {
		f.state = StateInfileReply
	}
	return nil
}
