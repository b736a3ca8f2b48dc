package faults

import (
	"github.com/gofaults/faults/internal/split"
	"github.com/gofaults/faults/internal/tcpcap"
	"github.com/gofaults/faults/internal/wire/httpwire"
	"github.com/gofaults/faults/internal/wire/resp"
)

// What a capture knows of each protocol that frames messages: how to find
// where they end (see WithCapture), and what RedactSecrets hides in them.
// A protocol without captureSplitter is captured as the bytes came.

func (httpProtocol) captureSplitter() split.Splitter { return split.HTTP() }

func (httpProtocol) redact(side tcpcap.Side, msg []byte) []byte {
	if side == tcpcap.Client {
		return httpwire.Redact(msg, "Authorization", "Proxy-Authorization", "Cookie")
	}
	return httpwire.Redact(msg, "Set-Cookie")
}

func (mysqlProtocol) captureSplitter() split.Splitter { return split.MySQL() }

func (postgresProtocol) captureSplitter() split.Splitter { return split.Postgres() }

func (redisProtocol) captureSplitter() split.Splitter { return split.Redis() }

func (redisProtocol) redact(side tcpcap.Side, msg []byte) []byte {
	if side == tcpcap.Client {
		return resp.RedactAuth(msg)
	}
	return msg
}

func (memcachedProtocol) captureSplitter() split.Splitter { return split.Memcached() }
