package main

import (
	"encoding/json"
	"testing"

	"github.com/gofaults/faults"
	"github.com/stretchr/testify/require"
)

// Each toxic becomes the behaviors that do what it does, with Toxiproxy's
// units, in its direction, with its toxicity as their probability; every
// protocol's proxy takes them.
func TestToxicsMapOntoBehaviors(t *testing.T) {
	for _, c := range []struct {
		req  string
		want []string
	}{
		{`{"type":"latency","attributes":{"latency":100,"jitter":10}}`, []string{"Latency(100ms).Jitter(10ms).Downstream()"}},
		{`{"type":"latency","stream":"upstream","toxicity":0.1}`, []string{"Latency(0s).Upstream().Probability(0.1)"}},
		{`{"type":"bandwidth","attributes":{"rate":100}}`, []string{"Bandwidth(100000).Downstream()"}},
		{`{"type":"bandwidth","attributes":{"rate":0}}`, []string{"Stall().Downstream()"}},
		{`{"type":"slow_close","attributes":{"delay":250}}`, []string{"SlowClose(250ms).Downstream()"}},
		{`{"type":"timeout","attributes":{"timeout":0}}`, []string{"Stall().Downstream()"}},
		{`{"type":"timeout","stream":"upstream","attributes":{"timeout":1500},"toxicity":0.5}`, []string{`Stall().Upstream().Probability(0.5).Together("toxic:timeout_upstream")`, `Timeout(1.5s).Probability(0.5).Together("toxic:timeout_upstream")`}},
		{`{"name":"r","type":"reset_peer","attributes":{"timeout":200},"toxicity":0.25}`, []string{`Stall().Downstream().Probability(0.25).Together("toxic:r")`, `ResetAfter(200ms).Probability(0.25).Together("toxic:r")`}},
		{`{"type":"reset_peer"}`, []string{"ResetAfterBytes(0).Downstream()"}},
		{`{"type":"reset_peer","attributes":{"timeout":200}}`, []string{"Stall().Downstream()", "ResetAfter(200ms)"}},
		{`{"type":"slicer","attributes":{"average_size":64,"size_variation":8,"delay":500}}`, []string{"Slice(64, 500µs).Vary(8).Downstream()"}},
		{`{"type":"slicer","attributes":{"average_size":64,"delay":500}}`, []string{"Slice(64, 500µs).Downstream()"}},
		{`{"type":"limit_data","attributes":{"bytes":1024}}`, []string{"CloseAfterBytes(1024).Downstream()"}},
		{`{"type":"noop"}`, nil},
		{`{"type":"latency","toxicity":0}`, []string{"Latency(0s).Downstream().Probability(0)"}},
	} {
		var req toxicRequest
		require.NoError(t, json.Unmarshal([]byte(c.req), &req))
		tx, parts, err := newToxic(&req, func(string) bool { return false })
		require.NoError(t, err, c.req)
		var got []string
		for _, p := range parts {
			got = append(got, p.b.String())
		}
		require.Equal(t, c.want, got, c.req)

		for _, proto := range protocols {
			p, err := faults.NewProxy("127.0.0.1:9", faults.WithProtocol(proto))
			require.NoError(t, err)
			for _, pt := range parts {
				require.NoError(t, p.Add(ruleName(tx.name, pt.key), pt.b), "%s on %s", pt.b, proto.Name())
			}
			p.Close()
		}
	}
}

// GET's toxic, sent back as a create request, makes the same toxic.
func FuzzToxicRequest(f *testing.F) {
	for _, s := range []string{
		`{"type":"latency","attributes":{"latency":100,"jitter":10}}`,
		`{"name":"x","type":"slicer","stream":"UPSTREAM","toxicity":0.25,"attributes":{"average_size":10,"size_variation":9,"delay":1}}`,
		`{"type":"bandwidth","attributes":{"rate":9223372036854775807}}`,
		`{"type":"timeout","attributes":null}`,
		`{"type":"limit_data","attributes":{"bytes":-1}}`,
		`{"type":"reset_peer","stream":"","toxicity":1e-45}`,
		`{"type":"noop","attributes":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req toxicRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		tx, parts, err := newToxic(&req, func(string) bool { return false })
		if err != nil {
			return
		}
		for _, p := range parts {
			if p.b.String() == "Behavior{}" {
				t.Fatalf("%s: an empty behavior", body)
			}
		}
		wire, err := json.Marshal(tx.wire())
		require.NoError(t, err)
		var again toxicRequest
		require.NoError(t, json.Unmarshal(wire, &again), "%s", wire)
		tx2, parts2, err := newToxic(&again, func(string) bool { return false })
		require.NoError(t, err, "%s", wire)
		require.Equal(t, tx, tx2)
		require.Equal(t, len(parts), len(parts2))
		for i := range parts {
			require.Equal(t, parts[i].b.String(), parts2[i].b.String())
		}
	})
}

// A config file never crashes the parser; what it accepts is complete.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`[{"name":"mysql","listen":"0.0.0.0:8666","upstream":"mysql:3306","enabled":true}]`,
		`[{"name":"a","upstream":"a:1","protocol":"redis","seed":1,"dial_timeout":"1s","behaviors":["Latency(1ms)"]}]`,
		"proxies:\n  - name: db\n    upstream: 127.0.0.1:3306\n    protocol: mysql\n    seed: 42\n    dial_timeout: 2s\n    behaviors:\n      - Latency(100ms).Downstream()\n",
		"proxies: []\n",
		"proxies:\n  - name: a\n    upstream: a:1\n    enabled: no\n",
		"",
		"[",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		specs, err := parseConfig(data)
		if err != nil {
			return
		}
		names := map[string]bool{}
		for _, s := range specs {
			if s.name == "" || s.upstream == "" || s.protocol == nil || s.dialTimeout < 0 || names[s.name] {
				t.Fatalf("%q: accepted %+v", data, s)
			}
			names[s.name] = true
			if len(s.behaviors) > 0 && !s.hasBehaviors {
				t.Fatalf("%q: behaviors without hasBehaviors", data)
			}
		}
	})
}
