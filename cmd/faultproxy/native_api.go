package main

import (
	"net/http"
	"time"
)

// behaviorsShow answers every behavior the proxy carries out, toxics' and
// a disable's included, as a JSON array of expressions in the syntax of
// faults.Behavior.String, such as "Latency(100ms).Downstream()".
func (a *api) behaviorsShow(w http.ResponseWriter, r *http.Request) {
	a.withProxy(w, r, func(m *managed) (reply, error) {
		return reply{http.StatusOK, m.behaviors()}, nil
	})
}

// behaviorsSet replaces every behavior of the proxy, its toxics included,
// with the JSON array of expressions in the body, and answers what the
// proxy then carries out. A disabled proxy stays disabled. An expression
// that does not parse, or a behavior the proxy cannot carry out, is a 400
// naming it, and nothing changes.
func (a *api) behaviorsSet(w http.ResponseWriter, r *http.Request) {
	var exprs []string
	if err := decodeBody(w, r, &exprs); err != nil {
		writeError(w, err)
		return
	}
	bs, err := parseBehaviors(exprs)
	if err != nil {
		writeError(w, err)
		return
	}
	a.withProxy(w, r, func(m *managed) (reply, error) {
		if err := m.setBehaviors(bs); err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, m.behaviors()}, nil
	})
}

// behaviorsDelete removes every behavior of the proxy, its toxics
// included; a disabled proxy stays disabled.
func (a *api) behaviorsDelete(w http.ResponseWriter, r *http.Request) {
	a.withProxy(w, r, func(m *managed) (reply, error) {
		return reply{status: http.StatusNoContent}, m.setBehaviors(nil)
	})
}

// eventJSON is one fault that fired.
type eventJSON struct {
	Time     time.Time `json:"time"`
	Conn     uint64    `json:"conn"` // 0: the listener
	Request  string    `json:"request,omitempty"`
	Behavior string    `json:"behavior"`
}

// events answers the faults fired on the proxy, oldest first.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	a.withProxy(w, r, func(m *managed) (reply, error) {
		evs := m.events()
		out := make([]eventJSON, len(evs))
		for i, e := range evs {
			out[i] = eventJSON{Time: e.Time, Conn: e.Conn, Request: e.Request, Behavior: e.Behavior}
		}
		return reply{http.StatusOK, out}, nil
	})
}

// statsJSON is a proxy's counters since it was created, and its seed.
type statsJSON struct {
	ConnectionsOpen  int64 `json:"connections_open"`
	ConnectionsTotal int64 `json:"connections_total"`
	BytesUpstream    int64 `json:"bytes_upstream"`
	BytesDownstream  int64 `json:"bytes_downstream"`
	Requests         int64 `json:"requests"`
	Faults           int64 `json:"faults"`
	DialFailures     int64 `json:"dial_failures"`
	Seed             int64 `json:"seed"`
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	a.withProxy(w, r, func(m *managed) (reply, error) {
		s := m.stats()
		out := statsJSON{
			ConnectionsOpen:  s.ConnsOpen,
			ConnectionsTotal: s.ConnsTotal,
			BytesUpstream:    s.BytesUpstream,
			BytesDownstream:  s.BytesDownstream,
			Requests:         s.Requests,
			Faults:           s.Injected,
			DialFailures:     s.DialFailures,
		}
		if m.p != nil {
			out.Seed = m.p.Seed()
		}
		return reply{http.StatusOK, out}, nil
	})
}
