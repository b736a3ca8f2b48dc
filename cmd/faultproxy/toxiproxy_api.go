package main

import (
	"net/http"
)

// toxiproxyVersion is the Toxiproxy API this daemon speaks, which
// GET /version reports: Toxiproxy's Ruby client reads it to choose PATCH
// over POST.
const toxiproxyVersion = "2.12.0"

// proxyJSON is a proxy on the wire: Toxiproxy's fields in its order, and
// the protocol, which its clients ignore.
type proxyJSON struct {
	Name     string      `json:"name"`
	Listen   string      `json:"listen"`
	Upstream string      `json:"upstream"`
	Enabled  bool        `json:"enabled"`
	Protocol string      `json:"protocol"`
	Capture  string      `json:"capture,omitempty"` // the file it records to, from the config or -capture
	Toxics   []toxicJSON `json:"toxics"`
}

// view returns m on the wire. The caller holds m.mu.
func (m *managed) view() proxyJSON {
	return proxyJSON{
		Name:     m.name,
		Listen:   m.spec.listen,
		Upstream: m.spec.upstream,
		Enabled:  m.enabled,
		Protocol: m.spec.protocol.Name(),
		Capture:  m.spec.capture,
		Toxics:   m.toxicsJSON(),
	}
}

// toxicsJSON lists m's toxics as Toxiproxy does: the upstream ones in the
// order added, then the downstream ones.
func (m *managed) toxicsJSON() []toxicJSON {
	out := make([]toxicJSON, 0, len(m.toxics))
	for _, up := range []bool{true, false} {
		for _, t := range m.toxics {
			if t.upstream() == up {
				out = append(out, t.wire())
			}
		}
	}
	return out
}

// viewOf returns m on the wire, locking it.
func viewOf(m *managed) proxyJSON {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.view()
}

// version answers exactly as Toxiproxy 2.12 does, byte for byte.
func (a *api) version(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Write([]byte(`{"version": "` + toxiproxyVersion + `"}` + "\n"))
}

func (a *api) proxyIndex(w http.ResponseWriter, r *http.Request) {
	out := make(map[string]proxyJSON)
	for _, m := range a.d.list() {
		out[m.name] = viewOf(m)
	}
	writeJSON(w, http.StatusOK, out)
}

// proxyCreate creates a proxy: 201, or 409 if the name is taken. Absent
// or null "enabled" is true, as in Toxiproxy.
func (a *api) proxyCreate(w http.ResponseWriter, r *http.Request) {
	var pc proxyConfig
	if err := decodeBody(w, r, &pc); err != nil {
		writeError(w, err)
		return
	}
	switch {
	case pc.Name == "":
		writeError(w, errorf(http.StatusBadRequest, "missing required field: name"))
		return
	case pc.Upstream == nil || *pc.Upstream == "":
		writeError(w, errorf(http.StatusBadRequest, "missing required field: upstream"))
		return
	}
	if _, err := a.d.get(pc.Name); err == nil {
		writeError(w, errProxyExists)
		return
	}
	s, err := pc.over(spec{name: pc.Name})
	if err != nil {
		writeError(w, err)
		return
	}
	m, err := a.d.create(s)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewOf(m))
}

func (a *api) proxyShow(w http.ResponseWriter, r *http.Request) {
	a.withProxy(w, r, func(m *managed) (reply, error) {
		return reply{http.StatusOK, m.view()}, nil
	})
}

// proxyUpdate applies the fields given over the proxy's (PATCH, or POST as
// Toxiproxy's Go client and CLI send it). A new listen address, upstream,
// protocol or option restarts the proxy, dropping its connections and
// keeping its toxics, as Toxiproxy does; a new address that cannot be
// bound changes nothing. The name cannot change.
func (a *api) proxyUpdate(w http.ResponseWriter, r *http.Request) {
	var pc proxyConfig
	if err := decodeBody(w, r, &pc); err != nil {
		writeError(w, err)
		return
	}
	if pc.Behaviors != nil {
		writeError(w, errorf(http.StatusBadRequest, "behaviors are set with PUT /proxies/%s/behaviors", r.PathValue("proxy")))
		return
	}
	a.withProxy(w, r, func(m *managed) (reply, error) {
		s, err := pc.over(m.spec)
		if err != nil {
			return reply{}, err
		}
		on := m.enabled
		if s.enabled != nil {
			on = *s.enabled
		}
		if m.differs(s) {
			was := m.enabled
			m.enabled = on
			if err := m.replace(s); err != nil {
				m.enabled = was && m.p != nil
				return reply{}, err
			}
		} else if err := m.setEnabled(on); err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, m.view()}, nil
	})
}

func (a *api) proxyDelete(w http.ResponseWriter, r *http.Request) {
	if err := a.d.remove(r.PathValue("proxy")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) toxicIndex(w http.ResponseWriter, r *http.Request) {
	a.withProxy(w, r, func(m *managed) (reply, error) {
		return reply{http.StatusOK, m.toxicsJSON()}, nil
	})
}

// toxicCreate adds a toxic: 200 (not 201), as Toxiproxy answers.
func (a *api) toxicCreate(w http.ResponseWriter, r *http.Request) {
	var req toxicRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	a.withProxy(w, r, func(m *managed) (reply, error) {
		t, err := m.addToxic(&req)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, t.wire()}, nil
	})
}

func (a *api) toxicShow(w http.ResponseWriter, r *http.Request) {
	a.withProxy(w, r, func(m *managed) (reply, error) {
		t, _ := m.toxicNamed(r.PathValue("toxic"))
		if t == nil {
			return reply{}, errToxicNotFound
		}
		return reply{http.StatusOK, t.wire()}, nil
	})
}

// toxicUpdate merges the attributes given into the toxic's and sets its
// toxicity if given; its name, type and stream cannot change.
func (a *api) toxicUpdate(w http.ResponseWriter, r *http.Request) {
	var req toxicRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	a.withProxy(w, r, func(m *managed) (reply, error) {
		t, err := m.updateToxic(r.PathValue("toxic"), &req)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, t.wire()}, nil
	})
}

func (a *api) toxicDelete(w http.ResponseWriter, r *http.Request) {
	a.withProxy(w, r, func(m *managed) (reply, error) {
		return reply{status: http.StatusNoContent}, m.removeToxic(r.PathValue("toxic"))
	})
}

// populateReply is /populate's body, on success and on error alike.
type populateReply struct {
	Error   string      `json:"error,omitempty"`
	Status  int         `json:"status,omitempty"`
	Proxies []proxyJSON `json:"proxies"`
}

// populate creates or updates proxies from a JSON array: 201 with every
// proxy, in order. On an error it answers the error with the proxies done
// before it; "proxies" is an array even when empty (Toxiproxy's null
// breaks its Ruby client).
func (a *api) populate(w http.ResponseWriter, r *http.Request) {
	var pcs []proxyConfig
	err := decodeBody(w, r, &pcs)
	var done []*managed
	if err == nil {
		var specs []spec
		if specs, err = specsOf(pcs); err == nil {
			done, err = a.d.populate(specs)
		}
	}
	out := populateReply{Proxies: make([]proxyJSON, 0, len(done))}
	for _, m := range done {
		out.Proxies = append(out.Proxies, viewOf(m))
	}
	if err != nil {
		out.Error, out.Status = err.Error(), statusOf(err)
		writeJSON(w, out.Status, out)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// reset removes every toxic and behavior and enables every proxy.
func (a *api) reset(w http.ResponseWriter, r *http.Request) {
	if err := a.d.reset(); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
