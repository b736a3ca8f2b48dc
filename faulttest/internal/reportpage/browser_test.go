package reportpage

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// chromium returns the path of a Chromium binary, or "" if there is none.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestReportPageRendersInChromium renders the restart page in headless
// Chromium and checks the screenshot is a picture: many colors, the fault
// shading and the series' colors. It skips without Chromium (Debian package
// chromium). With FAULTS_REPORT_SCREENSHOT=file.png it keeps the
// screenshot there, to look at.
func TestReportPageRendersInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("no chromium or chromium-browser on PATH: install Debian package chromium to render the HTML report")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	shot := filepath.Join(dir, "report.png")
	var buf bytes.Buffer
	if err := Write(&buf, restartPage()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1200,1400",
		"--screenshot="+shot, "file://"+page)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	if keep := os.Getenv("FAULTS_REPORT_SCREENSHOT"); keep != "" {
		if err := os.WriteFile(keep, data, 0o644); err != nil {
			t.Errorf("keeping the screenshot: %v", err)
		}
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decoding the screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 1000 {
		t.Fatalf("screenshot is %v, want about 1200×1400", b)
	}
	colors, counts := colorCensus(img, map[string]color.RGBA{
		"shading":    hexRGB(shadeColor),
		"throughput": hexRGB(colorThroughput),
		"errors":     hexRGB(colorErrors),
		"p99":        hexRGB(colorP99),
	})
	if colors < 50 {
		t.Errorf("screenshot has %d distinct colors; a blank or broken page has few", colors)
	}
	for name, min := range map[string]int{"shading": 5000, "throughput": 200, "errors": 200, "p99": 100} {
		if counts[name] < min {
			t.Errorf("screenshot has %d pixels of the %s color, want at least %d", counts[name], name, min)
		}
	}
	t.Logf("screenshot: %d distinct colors; pixels of %v", colors, counts)
}

// colorCensus counts img's distinct colors, and its pixels within a small
// distance of each of want.
func colorCensus(img image.Image, want map[string]color.RGBA) (distinct int, counts map[string]int) {
	seen := map[color.RGBA]bool{}
	counts = map[string]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}
			seen[c] = true
			for name, w := range want {
				if absDiff(c.R, w.R) <= 4 && absDiff(c.G, w.G) <= 4 && absDiff(c.B, w.B) <= 4 {
					counts[name]++
				}
			}
		}
	}
	return len(seen), counts
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}

// hexRGB parses "#rrggbb".
func hexRGB(s string) color.RGBA {
	var c color.RGBA
	c.A = 255
	for i, p := range []*uint8{&c.R, &c.G, &c.B} {
		v := 0
		for _, ch := range s[1+2*i : 3+2*i] {
			v *= 16
			switch {
			case ch >= '0' && ch <= '9':
				v += int(ch - '0')
			case ch >= 'a' && ch <= 'f':
				v += int(ch-'a') + 10
			}
		}
		*p = uint8(v)
	}
	return c
}
