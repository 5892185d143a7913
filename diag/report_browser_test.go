package diag_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/diag"
)

// chromium returns the path of headless Chromium (Debian's chromium), or
// skips the test; with HOTCOLD_REQUIRE_CHROMIUM=1 a missing Chromium fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HOTCOLD_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("HOTCOLD_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH (apt-get install -y chromium; HOTCOLD_REQUIRE_CHROMIUM=1 makes this a failure)")
	return ""
}

// measureScript is appended to a copy of the page (the page itself has no
// script): it records what the test asserts into the DOM that
// --dump-dom prints.
const measureScript = `<script>
window.addEventListener('load', function () {
  function box(el) { var r = el.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }
  var out = {scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth, innerHeight: innerHeight,
    verdict: box(document.getElementById('verdict')), findings: [], charts: []};
  document.querySelectorAll('.finding').forEach(function (f) { out.findings.push(box(f)); });
  document.querySelectorAll('svg.chart').forEach(function (c) { out.charts.push(box(c)); });
  var pre = document.createElement('pre'); pre.id = 'measure'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>`

type rect struct{ Top, Bottom, Left, Right float64 }

type measure struct {
	ScrollWidth, InnerWidth, InnerHeight float64
	Verdict                              rect
	Findings, Charts                     []rect
}

func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--hide-scrollbars"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// A report with names and URLs longer than any screen: a task name of 300
// characters without a space, a URL in a missing-evidence reason.
func longNamesReport(t *testing.T) *diag.Report {
	r := scenarioReport(t, "dirty", dirtyJob, false, diag.LagConfig{CommitInterval: time.Minute})
	long := "Source:_orders_enrich_" + strings.Repeat("KafkaSource-orders-v2-with-a-very-long-operator-uid_", 6)
	r.Findings = append(r.Findings, diag.Finding{Rule: "test/long", Severity: diag.SeverityWarning, Time: t0,
		Cause:      "Operator " + long + " is slow",
		Details:    []string{"task " + long + " (1/4)#0 on 10.0.3.18:41877"},
		Suggestion: "See http://jobmanager.flink.example.internal:8081/#/job/running/" + dirtyJob + "/overview/" + strings.Repeat("0123456789abcdef", 8)})
	r.Missing = append(r.Missing, diag.Missing{Source: "flink", What: "flame graph of " + long,
		Reason: "GET http://jobmanager:8081/jobs/" + dirtyJob + "/vertices/" + strings.Repeat("cbc357ccb763df2852fee8c4fc7d55f2", 3) + "/flamegraph?type=on_cpu: HTTP 500"})
	return r
}

// The page renders in a real browser at 1400 and 800 px without horizontal
// overflow, with the verdict in the first screen and every finding and
// chart within the width.
func TestHTMLReportFitsTheBrowserWindow(t *testing.T) {
	bin := chromium(t)
	r := longNamesReport(t)
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "report.html")
	measured := filepath.Join(dir, "measured.html")
	if err := os.WriteFile(plain, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	withScript := strings.Replace(page.String(), "</body>", measureScript+"</body>", 1)
	if err := os.WriteFile(measured, []byte(withScript), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, width := range []int{1400, 800} {
		t.Run(itoa(width)+"px", func(t *testing.T) {
			size := "--window-size=" + itoa(width) + ",900"
			dom := runChromium(t, bin, size, "--virtual-time-budget=5000", "--dump-dom", "file://"+measured)
			m := regexp.MustCompile(`(?s)<pre id="measure">(.*?)</pre>`).FindSubmatch(dom)
			if m == nil {
				t.Fatalf("no measurement in the dumped DOM:\n%.2000s", dom)
			}
			var got measure
			if err := json.Unmarshal([]byte(strings.ReplaceAll(string(m[1]), "&quot;", `"`)), &got); err != nil {
				t.Fatalf("measurement %s: %v", m[1], err)
			}
			if got.InnerWidth != float64(width) {
				t.Fatalf("innerWidth %v, want %d", got.InnerWidth, width)
			}
			if got.ScrollWidth > got.InnerWidth {
				t.Errorf("page is %v px wide in a %v px window: horizontal overflow", got.ScrollWidth, got.InnerWidth)
			}
			v := got.Verdict
			if v.Top < 0 || v.Bottom > got.InnerHeight || v.Left < 0 || v.Right > got.InnerWidth {
				t.Errorf("verdict %+v not in the first %vx%v screen", v, got.InnerWidth, got.InnerHeight)
			}
			if len(got.Findings) != len(r.Findings) || len(got.Charts) != 2 {
				t.Fatalf("%d findings and %d charts rendered, want %d and 2", len(got.Findings), len(got.Charts), len(r.Findings))
			}
			for i, b := range append(got.Findings, got.Charts...) {
				if b.Left < 0 || b.Right > got.InnerWidth {
					t.Errorf("box %d %+v leaves the %v px window", i, b, got.InnerWidth)
				}
			}
			shot := filepath.Join(dir, "report-"+itoa(width)+".png")
			runChromium(t, bin, size, "--screenshot="+shot, "file://"+plain)
			if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
				t.Fatalf("screenshot %s: %v", shot, err)
			}
			if d := os.Getenv("HOTCOLD_SCREENSHOTS"); d != "" { // keep them to look at
				b, _ := os.ReadFile(shot)
				os.WriteFile(filepath.Join(d, filepath.Base(shot)), b, 0o644)
			}
		})
	}
}
