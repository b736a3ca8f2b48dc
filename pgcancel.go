package faults

import (
	"sync"

	"github.com/gofaults/faults/internal/wire/pgwire"
)

// A client cancels a statement by sending a CancelRequest, with the
// process id and secret key the server gave its session (BackendKeyData),
// on a connection of its own. When the proxy is holding the statement (a
// DelayRequest, a DelayResponse, a DropResponse), the server has nothing
// to cancel, or has finished: the proxy answers the cancel itself on the
// statement's connection, as the server answers a cancelled statement,
// with PostgresQueryCanceled. Otherwise the CancelRequest goes to the
// server (and, for a statement whose answer DropResponse awaits, to the
// proxy as well: see cancelHeld).

// postgresSessionKey names a session by the proxy serving it and the key
// its server gave it.
type postgresSessionKey struct {
	p      *Proxy
	pid    uint32
	secret string
}

// postgresSessions are the live sessions of every PostgreSQL-aware proxy,
// by key.
var postgresSessions sync.Map // postgresSessionKey → *postgresRelay

// learnKey registers the session whose BackendKeyData, with header h, is
// buffered on the server's side.
func (r *postgresRelay) learnKey(h pgwire.Header) {
	b, err := r.fromServer.Peek(h.Size())
	if err != nil {
		return
	}
	k, err := pgwire.ParseBackendKeyData(b[pgwire.HeaderLen:])
	if err != nil {
		return
	}
	key := postgresSessionKey{r.c.p, k.ProcessID, string(k.SecretKey)}
	postgresSessions.Store(key, r)
	r.forgetKey = func() { postgresSessions.CompareAndDelete(key, r) }
}

// cancelHeld answers a CancelRequest for the session named by s if the
// proxy is holding one of its statements, and reports whether it did. A
// statement whose answer DropResponse will drop, and which the server may
// still be running, is cancelled both ways: the server gets the
// CancelRequest, so that it stops the statement as a real cancel would,
// and the drop ends with the cancel's error whatever the server answers.
func (p *Proxy) cancelHeld(s pgwire.Startup) bool {
	v, ok := postgresSessions.Load(postgresSessionKey{p, s.ProcessID, string(s.SecretKey)})
	if !ok {
		return false
	}
	r := v.(*postgresRelay)
	held := r.held.Load() > 0
	if !held && r.dropsOwed.Load() == 0 {
		return false
	}
	select {
	case r.cancels <- struct{}{}:
	default:
	}
	r.wakeParked() // a dropping replies side waits for the server
	return held
}
