package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	// Toxiproxy's config, as testcontainers writes it; unknown keys are
	// ignored, as Toxiproxy ignores them.
	specs, err := parseConfig([]byte(`[
		{"name":"mysql","listen":"0.0.0.0:8666","upstream":"mysql:3306","enabled":true,"toxics":[]},
		{"name":"redis","upstream":"redis:6379"}
	]`))
	require.NoError(t, err)
	require.Len(t, specs, 2)
	require.Equal(t, "0.0.0.0:8666", specs[0].listen)
	require.True(t, *specs[0].enabled)
	require.Equal(t, "tcp", specs[1].protocol.Name())
	require.Nil(t, specs[1].enabled)
	require.False(t, specs[1].hasBehaviors)

	specs, err = parseConfig([]byte(`
proxies:
  - name: db
    listen: 127.0.0.1:3307
    upstream: 127.0.0.1:3306
    protocol: mysql
    seed: 42
    dial_timeout: 2s
    enabled: false
    behaviors:
      - Latency(100ms).Downstream()
  - name: empty
    upstream: 127.0.0.1:1
    behaviors: []
`))
	require.NoError(t, err)
	require.Len(t, specs, 2)
	db := specs[0]
	require.Equal(t, "mysql", db.protocol.Name())
	require.EqualValues(t, 42, *db.seed)
	require.Equal(t, 2*time.Second, db.dialTimeout)
	require.False(t, *db.enabled)
	require.Len(t, db.behaviors, 1)
	require.Equal(t, "Latency(100ms).Downstream()", db.behaviors[0].String())
	require.True(t, specs[1].hasBehaviors)
	require.Empty(t, specs[1].behaviors)

	for _, c := range []struct{ config, err string }{
		{`[{"upstream":"a:1"}]`, "missing required field: name at proxy 1"},
		{`[{"name":"a","upstream":"a:1"},{"name":"b"}]`, "missing required field: upstream at proxy 2"},
		{`[{"name":"a","upstream":"a:1"},{"name":"a","upstream":"a:1"}]`, `duplicate name "a" at proxy 2`},
		{`[{"name":"a","upstream":"a:1","protocol":"smtp"}]`, `unknown protocol "smtp"`},
		{`[{"name":"a","upstream":"a:1"}`, "toxiproxy JSON config: unexpected end of JSON input"},
		{"proxies:\n  - name: a\n    upstream: a:1\n    protcol: http\n", "field protcol not found"},
		{"proxies:\n  - name: a\n    upstream: a:1\n    dial_timeout: soon\n", `line 4: time: invalid duration "soon"`},
		{"proxies:\n  - name: a\n    upstream: a:1\n    dial_timeout: -1s\n", "dial_timeout -1s: must not be negative at proxy 1"},
		{"proxies:\n  - name: a\n    upstream: a:1\n    behaviors: [\"Latency(\"]\n", "behavior 1: "},
		{"proxies: {}\n", "cannot unmarshal"},
	} {
		_, err := parseConfig([]byte(c.config))
		require.ErrorContains(t, err, c.err, "%s", c.config)
	}
}

func TestSameListen(t *testing.T) {
	for _, c := range []struct {
		want, bound string
		same        bool
	}{
		{"127.0.0.1:0", "127.0.0.1:40000", true},
		{"localhost:0", "127.0.0.1:40000", true},
		{"127.0.0.1:40000", "127.0.0.1:40000", true},
		{"127.0.0.1:40001", "127.0.0.1:40000", false},
		{"", "[::]:40000", true},
		{"0.0.0.0:40000", "[::]:40000", true},
		{"127.0.0.2:0", "127.0.0.1:40000", false},
		{"bogus", "127.0.0.1:40000", false},
	} {
		require.Equal(t, c.same, sameListen(c.want, c.bound), "%q vs %q", c.want, c.bound)
	}
}
