package pgwire

import (
	"encoding/binary"
)

// The type bytes of the messages a client sends after the first packet.
// Some letters mean another message from the server: 'D' is Describe from
// a client and DataRow from a server.
const (
	TypeBind         = 'B'
	TypeClose        = 'C'
	TypeCopyData     = 'd' // both ways
	TypeCopyDone     = 'c' // both ways
	TypeCopyFail     = 'f'
	TypeDescribe     = 'D'
	TypeExecute      = 'E'
	TypeFlush        = 'H'
	TypeFunctionCall = 'F'
	TypeParse        = 'P'
	// TypePassword is PasswordMessage, SASLInitialResponse,
	// SASLResponse and GSSResponse alike: what it is depends on the
	// authentication request it answers.
	TypePassword  = 'p'
	TypeQuery     = 'Q'
	TypeSync      = 'S'
	TypeTerminate = 'X'
)

// IsFrontendType reports whether t is the type of a message a client
// sends after the first packet.
func IsFrontendType(t byte) bool {
	switch t {
	case TypeBind, TypeClose, TypeCopyData, TypeCopyDone, TypeCopyFail, TypeDescribe,
		TypeExecute, TypeFlush, TypeFunctionCall, TypeParse, TypePassword, TypeQuery,
		TypeSync, TypeTerminate:
		return true
	}
	return false
}

// ParseQuery reads a Query payload: the SQL text, one or more statements,
// ended by a \0 that is the payload's last byte.
func ParseQuery(payload []byte) (sql []byte, err error) {
	sql, rest, ok := cutString(payload)
	if !ok || len(rest) != 0 {
		return nil, malformed("Query text not ended by its payload's only NUL")
	}
	return sql, nil
}

// Parse is a Parse message: prepare Query as the statement Name.
type Parse struct {
	Name  []byte // the statement's name; empty for the unnamed statement
	Query []byte // the SQL text
	// ParamTypes is how many parameter types (OIDs) the client gave; the
	// statement may have more parameters, of types the server infers.
	ParamTypes int
}

// ParseParse reads a Parse payload: the statement's name and its query,
// each ended by \0, then a 16-bit (unsigned) count of parameter type OIDs and the
// OIDs (4 bytes each).
func ParseParse(payload []byte) (Parse, error) {
	var p Parse
	var ok bool
	rest := payload
	if p.Name, rest, ok = cutString(rest); !ok {
		return Parse{}, malformed("Parse without a statement name")
	}
	if p.Query, rest, ok = cutString(rest); !ok {
		return Parse{}, malformed("Parse without a query")
	}
	n, rest, ok := cutCount(rest)
	if !ok || len(rest) != 4*n {
		return Parse{}, malformed("Parse's parameter types do not fill its payload")
	}
	p.ParamTypes = n
	return p, nil
}

// Bind is a Bind message: bind the statement Statement's parameters into
// the portal Portal.
type Bind struct {
	Portal    []byte // empty for the unnamed portal
	Statement []byte // empty for the unnamed statement
	Params    int    // how many parameter values it carries
}

// ParseBind reads a Bind payload: the portal's and the statement's names,
// each ended by \0; a 16-bit count of parameter format codes and the
// codes (2 bytes each); a 16-bit count of parameter values, each a 32-bit
// length (-1 for NULL) and that many bytes; a 16-bit count of result
// format codes and the codes. Every count and length is checked.
func ParseBind(payload []byte) (Bind, error) {
	var b Bind
	var ok bool
	rest := payload
	if b.Portal, rest, ok = cutString(rest); !ok {
		return Bind{}, malformed("Bind without a portal name")
	}
	if b.Statement, rest, ok = cutString(rest); !ok {
		return Bind{}, malformed("Bind without a statement name")
	}
	if rest, ok = skipInt16s(rest); !ok {
		return Bind{}, malformed("Bind's parameter formats overrun its payload")
	}
	n, rest, ok := cutCount(rest)
	if !ok {
		return Bind{}, malformed("Bind without a parameter count")
	}
	if rest, ok = skipValues(rest, n); !ok {
		return Bind{}, malformed("Bind's parameter values overrun its payload")
	}
	if rest, ok = skipInt16s(rest); !ok || len(rest) != 0 {
		return Bind{}, malformed("Bind's result formats do not fill its payload")
	}
	b.Params = n
	return b, nil
}

// Execute is an Execute message: run the portal Portal.
type Execute struct {
	Portal []byte // empty for the unnamed portal
	// MaxRows is the most rows to return before PortalSuspended; 0 for
	// no limit.
	MaxRows uint32
}

// ParseExecute reads an Execute payload: the portal's name ended by \0,
// then the 32-bit row limit.
func ParseExecute(payload []byte) (Execute, error) {
	portal, rest, ok := cutString(payload)
	if !ok || len(rest) != 4 {
		return Execute{}, malformed("Execute payload of %d bytes", len(payload))
	}
	return Execute{Portal: portal, MaxRows: binary.BigEndian.Uint32(rest)}, nil
}

// What a Close or a Describe is about.
const (
	TargetStatement = 'S'
	TargetPortal    = 'P'
)

// Target is what a Close or a Describe names: a prepared statement
// (Kind TargetStatement) or a portal (TargetPortal).
type Target struct {
	Kind byte
	Name []byte // empty for the unnamed statement or portal
}

// ParseClose reads a Close payload: 'S' or 'P', then the name ended by \0.
func ParseClose(payload []byte) (Target, error) { return parseTarget("Close", payload) }

// ParseDescribe reads a Describe payload, laid out as Close's.
func ParseDescribe(payload []byte) (Target, error) { return parseTarget("Describe", payload) }

func parseTarget(what string, payload []byte) (Target, error) {
	if len(payload) < 1 || (payload[0] != TargetStatement && payload[0] != TargetPortal) {
		return Target{}, malformed("%s of neither a statement nor a portal", what)
	}
	name, rest, ok := cutString(payload[1:])
	if !ok || len(rest) != 0 {
		return Target{}, malformed("%s name not ended by its payload's only NUL", what)
	}
	return Target{Kind: payload[0], Name: name}, nil
}

// ParseEmpty checks the payload of a message that has none: Sync, Flush,
// Terminate, CopyDone, and from a server ParseComplete, BindComplete,
// CloseComplete, NoData, PortalSuspended, EmptyQueryResponse.
func ParseEmpty(payload []byte) error {
	if len(payload) != 0 {
		return malformed("%d bytes where a message has none", len(payload))
	}
	return nil
}

// cutCount splits a 16-bit count off the start of b. Counts are
// unsigned: a statement may have up to 65535 parameters.
func cutCount(b []byte) (n int, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, b, false
	}
	return int(binary.BigEndian.Uint16(b)), b[2:], true
}

// cutInt32 splits a signed 32-bit integer off the start of b.
func cutInt32(b []byte) (n int, rest []byte, ok bool) {
	if len(b) < 4 {
		return 0, b, false
	}
	return int(int32(binary.BigEndian.Uint32(b))), b[4:], true
}

// skipInt16s skips a 16-bit count and that many 16-bit integers.
func skipInt16s(b []byte) (rest []byte, ok bool) {
	n, rest, ok := cutCount(b)
	if !ok || len(rest) < 2*n {
		return b, false
	}
	return rest[2*n:], true
}

// skipValues skips n values, each a 32-bit length (-1 for NULL) and that
// many bytes.
func skipValues(b []byte, n int) (rest []byte, ok bool) {
	rest = b
	for range n {
		var l int
		if l, rest, ok = cutInt32(rest); !ok || l < -1 || len(rest) < l {
			return b, false
		}
		if l > 0 {
			rest = rest[l:]
		}
	}
	return rest, true
}
