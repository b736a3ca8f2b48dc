package pgwire

import (
	"strings"
)

// ErrorFields are the fields of an ErrorResponse or a NoticeResponse.
// Each is a string on the wire, Position and Line included; an empty one
// is absent. The comments give each field's code.
type ErrorFields struct {
	Severity            string // 'S': ERROR, FATAL, PANIC, WARNING, NOTICE, ..., possibly localized
	SeverityUnlocalized string // 'V': the same, never localized (servers 9.6 and later)
	Code                string // 'C': the SQLSTATE, such as "40001"
	Message             string // 'M'
	Detail              string // 'D'
	Hint                string // 'H'
	Position            string // 'P': 1-based position in the query text, in characters
	InternalPosition    string // 'p': position in InternalQuery
	InternalQuery       string // 'q': the text of an internally generated query
	Where               string // 'W': the context, such as a PL/pgSQL call stack
	SchemaName          string // 's'
	TableName           string // 't'
	ColumnName          string // 'c'
	DataTypeName        string // 'd'
	ConstraintName      string // 'n'
	File                string // 'F': the server's source file
	Line                string // 'L': the line in File
	Routine             string // 'R': the server's function
	// Other holds fields of codes this package does not know, in the
	// order they came.
	Other []ErrorField
}

// ErrorField is one field of an ErrorResponse or a NoticeResponse.
type ErrorField struct {
	Code  byte
	Value string
}

// errorCodes are the known field codes, in the order the server writes
// them.
const errorCodes = "SVCMDHPpqWstcdnFLR"

// field returns the address of the field of code c, nil if c is unknown.
func (e *ErrorFields) field(c byte) *string {
	switch c {
	case 'S':
		return &e.Severity
	case 'V':
		return &e.SeverityUnlocalized
	case 'C':
		return &e.Code
	case 'M':
		return &e.Message
	case 'D':
		return &e.Detail
	case 'H':
		return &e.Hint
	case 'P':
		return &e.Position
	case 'p':
		return &e.InternalPosition
	case 'q':
		return &e.InternalQuery
	case 'W':
		return &e.Where
	case 's':
		return &e.SchemaName
	case 't':
		return &e.TableName
	case 'c':
		return &e.ColumnName
	case 'd':
		return &e.DataTypeName
	case 'n':
		return &e.ConstraintName
	case 'F':
		return &e.File
	case 'L':
		return &e.Line
	case 'R':
		return &e.Routine
	}
	return nil
}

// Fatal reports whether the error ends the session: severity FATAL or
// PANIC (the unlocalized severity when there is one). The server closes
// the connection after sending it, with no ReadyForQuery.
func (e *ErrorFields) Fatal() bool {
	s := e.SeverityUnlocalized
	if s == "" {
		s = e.Severity
	}
	return strings.EqualFold(s, "FATAL") || strings.EqualFold(s, "PANIC")
}

// ParseErrorFields reads the payload of an ErrorResponse or a
// NoticeResponse: fields, each a code byte and a value ended by \0, then
// a \0 that is the payload's last byte. The strings are copies, not views
// of payload. A field that comes twice keeps its last value.
func ParseErrorFields(payload []byte) (ErrorFields, error) {
	var e ErrorFields
	rest := payload
	for {
		if len(rest) == 0 {
			return ErrorFields{}, malformed("error fields without their terminator")
		}
		c := rest[0]
		if c == 0 {
			if len(rest) != 1 {
				return ErrorFields{}, malformed("%d bytes after the error fields' terminator", len(rest)-1)
			}
			return e, nil
		}
		v, r, ok := cutString(rest[1:])
		if !ok {
			return ErrorFields{}, malformed("error field %q without its terminator", c)
		}
		if f := e.field(c); f != nil {
			*f = string(v)
		} else {
			e.Other = append(e.Other, ErrorField{c, string(v)})
		}
		rest = r
	}
}

// AppendErrorResponse appends an ErrorResponse carrying e's fields to dst
// and returns the extended dst. The known fields go in the order the
// server writes them (S V C M D H P p q W s t c d n F L R), each only if
// not empty, then Other's in their order, then the terminator. A value
// holding a NUL is cut at it, as are Other's fields of code 0 left out:
// the message is always well framed.
func AppendErrorResponse(dst []byte, e ErrorFields) []byte {
	return appendFields(dst, TypeErrorResponse, &e)
}

// AppendNoticeResponse appends a NoticeResponse carrying e's fields, as
// AppendErrorResponse does an ErrorResponse.
func AppendNoticeResponse(dst []byte, e ErrorFields) []byte {
	return appendFields(dst, TypeNoticeResponse, &e)
}

func appendFields(dst []byte, t byte, e *ErrorFields) []byte {
	dst, start := beginMessage(dst, t)
	for i := range len(errorCodes) {
		c := errorCodes[i]
		if v := *e.field(c); v != "" {
			dst = appendCString(append(dst, c), v)
		}
	}
	for _, f := range e.Other {
		if f.Code != 0 {
			dst = appendCString(append(dst, f.Code), f.Value)
		}
	}
	return endMessage(append(dst, 0), start)
}
