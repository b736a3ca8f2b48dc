package mysqlwire

import (
	"encoding/binary"
	"fmt"
)

// Command is the first byte of a client's command message.
type Command byte

// Commands (the COM_ names of the MySQL and MariaDB sources).
const (
	ComSleep            Command = 0x00 // server-internal
	ComQuit             Command = 0x01 // no reply: the server closes
	ComInitDB           Command = 0x02 // OK or ERR
	ComQuery            Command = 0x03 // text; a result
	ComFieldList        Command = 0x04 // column definitions, then EOF or ERR
	ComCreateDB         Command = 0x05
	ComDropDB           Command = 0x06
	ComRefresh          Command = 0x07
	ComShutdown         Command = 0x08
	ComStatistics       Command = 0x09 // one string packet
	ComProcessInfo      Command = 0x0a // a result
	ComConnect          Command = 0x0b // server-internal
	ComProcessKill      Command = 0x0c
	ComDebug            Command = 0x0d
	ComPing             Command = 0x0e
	ComTime             Command = 0x0f // server-internal
	ComDelayedInsert    Command = 0x10 // server-internal
	ComChangeUser       Command = 0x11 // an authentication exchange
	ComBinlogDump       Command = 0x12 // a stream of events
	ComTableDump        Command = 0x13
	ComConnectOut       Command = 0x14 // server-internal
	ComRegisterSlave    Command = 0x15
	ComStmtPrepare      Command = 0x16 // text; PREPARE_OK and definitions, or ERR
	ComStmtExecute      Command = 0x17 // statement id; a result (binary rows)
	ComStmtSendLongData Command = 0x18 // statement id; no reply
	ComStmtClose        Command = 0x19 // statement id; no reply
	ComStmtReset        Command = 0x1a // statement id; OK or ERR
	ComSetOption        Command = 0x1b // EOF (or OK) or ERR
	ComStmtFetch        Command = 0x1c // statement id; rows, then EOF or ERR
	ComDaemon           Command = 0x1d // server-internal
	ComBinlogDumpGTID   Command = 0x1e
	ComResetConnection  Command = 0x1f // OK or ERR
	ComStmtBulkExecute  Command = 0xfa // MariaDB's COM_STMT_BULK_EXECUTE; a result
)

var commandNames = [...]string{
	"COM_SLEEP", "COM_QUIT", "COM_INIT_DB", "COM_QUERY", "COM_FIELD_LIST",
	"COM_CREATE_DB", "COM_DROP_DB", "COM_REFRESH", "COM_SHUTDOWN",
	"COM_STATISTICS", "COM_PROCESS_INFO", "COM_CONNECT", "COM_PROCESS_KILL",
	"COM_DEBUG", "COM_PING", "COM_TIME", "COM_DELAYED_INSERT",
	"COM_CHANGE_USER", "COM_BINLOG_DUMP", "COM_TABLE_DUMP", "COM_CONNECT_OUT",
	"COM_REGISTER_SLAVE", "COM_STMT_PREPARE", "COM_STMT_EXECUTE",
	"COM_STMT_SEND_LONG_DATA", "COM_STMT_CLOSE", "COM_STMT_RESET",
	"COM_SET_OPTION", "COM_STMT_FETCH", "COM_DAEMON", "COM_BINLOG_DUMP_GTID",
	"COM_RESET_CONNECTION",
}

// String returns c's name in the MySQL sources, such as "COM_QUERY", or
// "COM_0x%02x" for a byte that names no command.
func (c Command) String() string {
	if int(c) < len(commandNames) {
		return commandNames[c]
	}
	if c == ComStmtBulkExecute {
		return "COM_STMT_BULK_EXECUTE"
	}
	return fmt.Sprintf("COM_0x%02x", byte(c))
}

// StmtID returns the statement id of a COM_STMT_EXECUTE,
// COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE, COM_STMT_RESET, COM_STMT_FETCH
// or COM_STMT_BULK_EXECUTE payload, from its start head (its 4 bytes after
// the command byte, little endian); ok is false for another command or a
// payload too short.
func StmtID(head []byte) (id uint32, ok bool) {
	if len(head) < 5 {
		return 0, false
	}
	switch Command(head[0]) {
	case ComStmtExecute, ComStmtSendLongData, ComStmtClose,
		ComStmtReset, ComStmtFetch, ComStmtBulkExecute:
		return binary.LittleEndian.Uint32(head[1:5]), true
	}
	return 0, false
}

// Response is the shape of the server's response to a command, which says
// how a [Follower] follows it.
type Response uint8

const (
	// ResponseUnknown: a response the follower does not know the end of
	// (replication streams, server-internal commands, unknown bytes); the
	// connection can only go on raw.
	ResponseUnknown Response = iota
	// ResponseNone: no response (COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE;
	// COM_QUIT, after which the server closes).
	ResponseNone
	// ResponseSingle: exactly one message, OK, ERR, EOF or a string.
	ResponseSingle
	// ResponseResult: a result (COM_QUERY, COM_STMT_EXECUTE,
	// COM_PROCESS_INFO, COM_STMT_BULK_EXECUTE): OK, ERR, a LOCAL INFILE
	// request, or result sets, possibly several.
	ResponseResult
	// ResponsePrepare: COM_STMT_PREPARE_OK and its parameter and column
	// definitions, or ERR.
	ResponsePrepare
	// ResponseFieldList: column definitions ended by EOF, or ERR.
	ResponseFieldList
	// ResponseFetch: rows ended by EOF, or ERR (COM_STMT_FETCH).
	ResponseFetch
	// ResponseAuth: an authentication exchange (after the client's
	// handshake response, and COM_CHANGE_USER), ended by OK or ERR.
	ResponseAuth
)

// String returns r's short name, such as "result".
func (r Response) String() string {
	switch r {
	case ResponseUnknown:
		return "unknown"
	case ResponseNone:
		return "none"
	case ResponseSingle:
		return "single"
	case ResponseResult:
		return "result"
	case ResponsePrepare:
		return "prepare"
	case ResponseFieldList:
		return "field-list"
	case ResponseFetch:
		return "fetch"
	case ResponseAuth:
		return "auth"
	}
	return fmt.Sprintf("Response(%d)", uint8(r))
}

// Response returns the shape of the server's response to c.
func (c Command) Response() Response {
	switch c {
	case ComQuit, ComStmtSendLongData, ComStmtClose:
		return ResponseNone
	case ComInitDB, ComCreateDB, ComDropDB, ComRefresh,
		ComShutdown, ComStatistics, ComProcessKill, ComDebug,
		ComPing, ComStmtReset, ComSetOption, ComResetConnection:
		return ResponseSingle
	case ComQuery, ComStmtExecute, ComProcessInfo, ComStmtBulkExecute:
		return ResponseResult
	case ComStmtPrepare:
		return ResponsePrepare
	case ComFieldList:
		return ResponseFieldList
	case ComStmtFetch:
		return ResponseFetch
	case ComChangeUser:
		return ResponseAuth
	}
	return ResponseUnknown
}
