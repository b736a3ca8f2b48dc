package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// A toxic is one of Toxiproxy's faults on a proxy, as its API shows it.
// The daemon keeps toxics as Toxiproxy's clients wrote them and installs
// each as named behaviors of the proxy (see toxicmap.go).
type toxic struct {
	name     string
	kind     *toxicKind
	stream   string // as the client wrote it; parsed case-insensitively
	toxicity float32
	attrs    []int64 // in kind.attrs order
}

// toxicKind is one of Toxiproxy's toxic types: its name and its attributes,
// in the order Toxiproxy writes them. Every attribute is an integer.
type toxicKind struct {
	name  string
	attrs []string
}

// toxicKinds are the types of Toxiproxy 2.12, noop included (it is public
// there too).
var toxicKinds = []*toxicKind{
	{name: "latency", attrs: []string{"latency", "jitter"}},
	{name: "bandwidth", attrs: []string{"rate"}},
	{name: "slow_close", attrs: []string{"delay"}},
	{name: "timeout", attrs: []string{"timeout"}},
	{name: "reset_peer", attrs: []string{"timeout"}},
	{name: "slicer", attrs: []string{"average_size", "size_variation", "delay"}},
	{name: "limit_data", attrs: []string{"bytes"}},
	{name: "noop"},
}

func kindNamed(name string) *toxicKind {
	i := slices.IndexFunc(toxicKinds, func(k *toxicKind) bool { return k.name == name })
	if i < 0 {
		return nil
	}
	return toxicKinds[i]
}

// attr returns the value of the attribute named name.
func (t *toxic) attr(name string) int64 {
	return t.attrs[slices.Index(t.kind.attrs, name)]
}

// upstream reports whether the toxic acts on bytes from client to server.
func (t *toxic) upstream() bool { return strings.EqualFold(t.stream, "upstream") }

// toxicJSON is a toxic on the wire, fields in Toxiproxy's order.
type toxicJSON struct {
	Attributes attributes `json:"attributes"`
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	Stream     string     `json:"stream"`
	Toxicity   float32    `json:"toxicity"`
}

func (t *toxic) wire() toxicJSON {
	return toxicJSON{
		Attributes: attributes{t.kind, t.attrs},
		Name:       t.name,
		Type:       t.kind.name,
		Stream:     t.stream,
		Toxicity:   t.toxicity,
	}
}

// attributes writes a toxic's attributes as a JSON object: every attribute
// of its type, always, as an integer (Toxiproxy's Java client reads each
// with getAsLong).
type attributes struct {
	kind   *toxicKind
	values []int64
}

func (a attributes) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range a.kind.attrs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(name))
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(a.values[i], 10))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// mergeAttributes decodes raw, a JSON object (or null, or absent), over
// values: each attribute of kind present in raw replaces its value; other
// keys are ignored, as Toxiproxy ignores them. A value that is not an
// integer is an error naming the attribute, and values is left unchanged.
func mergeAttributes(kind *toxicKind, values []int64, raw json.RawMessage) ([]int64, error) {
	out := slices.Clone(values)
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, errorf(http.StatusBadRequest, "bad request body: attributes: %v", err)
	}
	for i, name := range kind.attrs {
		v, ok := fields[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(v, &out[i]); err != nil {
			return nil, errorf(http.StatusBadRequest, "bad request body: attribute %s of %s: want an integer, got %s", name, kind.name, v)
		}
	}
	return out, nil
}

// toxicRequest is the body of a toxic's create (all fields) or update
// (attributes and toxicity) request. Pointers tell absent from zero.
type toxicRequest struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Stream     *string         `json:"stream"`
	Toxicity   *float32        `json:"toxicity"`
	Attributes json.RawMessage `json:"attributes"`
}

// newToxic makes the toxic a create request asks for, checking in
// Toxiproxy's order: the stream (default downstream), the name (default
// "TYPE_STREAM"), the type. exists reports whether a toxic of a name is
// already on the proxy (409). Unlike Toxiproxy, the attributes and the
// toxicity are checked too: see parts.
func newToxic(req *toxicRequest, exists func(name string) bool) (*toxic, []part, error) {
	stream := "downstream"
	if req.Stream != nil {
		stream = *req.Stream
		if !strings.EqualFold(stream, "upstream") && !strings.EqualFold(stream, "downstream") {
			return nil, nil, errInvalidStream
		}
	}
	name := req.Name
	if name == "" {
		name = req.Type + "_" + stream
	}
	kind := kindNamed(req.Type)
	if kind == nil {
		return nil, nil, errInvalidType
	}
	if exists(name) {
		return nil, nil, errToxicExists
	}
	t := &toxic{name: name, kind: kind, stream: stream, toxicity: 1, attrs: make([]int64, len(kind.attrs))}
	return t.updated(req)
}

// updated returns a copy of t with the attributes of req merged in and its
// toxicity, if req has one; t is unchanged, whatever the error.
func (t *toxic) updated(req *toxicRequest) (*toxic, []part, error) {
	attrs, err := mergeAttributes(t.kind, t.attrs, req.Attributes)
	if err != nil {
		return nil, nil, err
	}
	u := *t
	u.attrs = attrs
	if req.Toxicity != nil {
		u.toxicity = *req.Toxicity
		if !(u.toxicity >= 0 && u.toxicity <= 1) {
			return nil, nil, errorf(http.StatusBadRequest, "invalid toxicity %g of toxic %q: must be in [0, 1]", u.toxicity, u.name)
		}
	}
	ps, err := u.parts()
	if err != nil {
		return nil, nil, err
	}
	return &u, ps, nil
}
