package main

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The Dockerfile's build command, run here as it is there, makes a static
// binary (no interpreter, no shared library: it runs on distroless or
// scratch) that serves the API. No container runtime is at hand to build
// the image itself.
func TestDockerfileBuildsAStaticBinary(t *testing.T) {
	dockerfile, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^FROM gcr\.io/distroless/static\S*:nonroot$`, string(dockerfile))
	require.Regexp(t, `(?m)^USER nonroot:nonroot$`, string(dockerfile))
	build := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*) -o /out/faultproxy \.$`).FindSubmatch(dockerfile)
	require.NotNil(t, build, "the Dockerfile's build line")

	out := filepath.Join(t.TempDir(), "faultproxy")
	cmd := exec.Command("sh", "-c", string(build[1])+" -o "+out+" .")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)

	f, err := elf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "a dynamic loader is needed")
		require.NotEqual(t, elf.PT_DYNAMIC, p.Type, "dynamically linked")
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	require.Empty(t, libs)

	v, err := exec.Command(out, "-version").Output()
	require.NoError(t, err)
	require.Contains(t, string(v), "Toxiproxy API 2.12.0")
	p := launch(t, out, "-api", "127.0.0.1:0", "-log-format", "json")
	p.api = p.waitLog("api listening", 20*time.Second)["addr"].(string)
	st, _, body := p.do("GET", "/version", "")
	require.Equal(t, 200, st)
	require.Equal(t, "{\"version\": \"2.12.0\"}\n", string(body))
}

// The example Kubernetes manifest's config and arguments are ones the
// daemon accepts.
func TestSidecarManifest(t *testing.T) {
	raw, err := os.ReadFile("deploy/sidecar.yaml")
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var config string
	var args []string
	for {
		var doc struct {
			Kind string
			Data map[string]string
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name string
							Args []string
						}
					}
				}
			}
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		switch doc.Kind {
		case "ConfigMap":
			config = doc.Data["faultproxy.yaml"]
		case "Deployment":
			for _, c := range doc.Spec.Template.Spec.Containers {
				if c.Name == "faultproxy" {
					args = c.Args
				}
			}
		}
	}
	specs, err := parseConfig([]byte(config))
	require.NoError(t, err)
	require.Len(t, specs, 1)
	require.Equal(t, "mysql", specs[0].protocol.Name())
	o, err := parseFlags(args, func(string) string { return "" }, &strings.Builder{})
	require.NoError(t, err)
	require.NoError(t, o.checkAPIAddr(), "the API stays on loopback, with no token")
	require.Equal(t, "/etc/faultproxy/faultproxy.yaml", o.config)
}
