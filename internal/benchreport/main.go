// Command benchreport runs every benchmark that an issue of hotcold names,
// together with the baseline it is compared to, in one run on this machine,
// and writes BENCHMARKS.md: machine, date, the exact commands, the numbers,
// and each ratio against its baseline. `make bench` runs it.
//
// Suites are declared in suites.go. A suite is either a set of Go benchmarks
// of one package (with ratio pairs) or a command that prints its own
// markdown (for comparisons against programs such as redis-benchmark).
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

type pair struct {
	// Name and Baseline are benchmark names (without the -N suffix).
	Name, Baseline string
	// Metric compares this metric instead of ns/op; for metrics ending in
	// "/s" higher is better, for everything else lower is better.
	Metric string
	// Want states the target in words, e.g. ">= 5x".
	Want string
	// Min is the ratio the target requires (0: just report).
	Min float64
}

type suite struct {
	Title     string
	Pkg       string
	Bench     string
	Benchtime string
	Count     int
	Env       []string
	// Args are appended to the go test command line (test binary flags).
	Args  []string
	Pairs []pair
	// Targets are absolute targets: benchmark name -> metric -> max value.
	Targets []target
	// Cmd, when set, is run instead of go test; its stdout is markdown.
	Cmd   []string
	Notes string
}

type target struct {
	Name, Metric, Want string
	Max, Min           float64
}

type result struct {
	name    string
	metrics map[string]float64
	line    string
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

func parse(out []byte) map[string]*result {
	res := map[string]*result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		r := &result{name: m[1], metrics: map[string]float64{}, line: sc.Text()}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			r.metrics[f[i+1]] = v
		}
		// with -count > 1 keep the median-ish: the last run wins only if
		// none yet; we keep the minimum ns/op (least disturbed run)
		if prev, ok := res[r.name]; ok {
			if prev.metrics["ns/op"] <= r.metrics["ns/op"] {
				continue
			}
		}
		res[r.name] = r
	}
	return res
}

func ratio(p pair, res map[string]*result) (float64, bool) {
	a, b := res[p.Name], res[p.Baseline]
	if a == nil || b == nil {
		return 0, false
	}
	m := p.Metric
	if m == "" {
		m = "ns/op"
	}
	x, y := a.metrics[m], b.metrics[m]
	if x == 0 || y == 0 {
		return 0, false
	}
	if strings.HasSuffix(m, "/s") {
		return x / y, true
	}
	return y / x, true
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s, %s", model, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func main() {
	out := flag.String("out", "BENCHMARKS.md", "file to write")
	only := flag.String("only", "", "run only suites whose title contains this")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx := context.Background()

	var md strings.Builder
	fmt.Fprintf(&md, "# hotcold benchmarks\n\n")
	fmt.Fprintf(&md, "Regenerate with `make bench` (runs `go run ./internal/benchreport`). Every ratio compares two numbers measured in the same run on the same machine.\n\n")
	fmt.Fprintf(&md, "- machine: %s\n- date: %s\n\n", machine(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	failed := 0
	for i, s := range suites {
		if *only != "" && !strings.Contains(s.Title, *only) {
			continue
		}
		log.Info("running suite", "n", i+1, "of", len(suites), "suite", s.Title)
		start := time.Now()
		fmt.Fprintf(&md, "## %s\n\n", s.Title)
		if s.Notes != "" {
			fmt.Fprintf(&md, "%s\n\n", s.Notes)
		}
		var args []string
		if len(s.Cmd) > 0 {
			args = s.Cmd
		} else {
			bt := s.Benchtime
			if bt == "" {
				bt = "1s"
			}
			cnt := s.Count
			if cnt == 0 {
				cnt = 1
			}
			args = []string{"go", "test", "-run", "^$", "-bench", s.Bench, "-benchmem", "-benchtime", bt, "-count", strconv.Itoa(cnt), "-timeout", "60m", s.Pkg}
			args = append(args, s.Args...)
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), s.Env...)
		cmd.Stderr = os.Stderr
		outb, err := cmd.Output()
		envs := ""
		if len(s.Env) > 0 {
			envs = strings.Join(s.Env, " ") + " "
		}
		fmt.Fprintf(&md, "Command: `%s%s`\n\n", envs, strings.Join(args, " "))
		if err != nil {
			failed++
			log.Error("suite failed", "suite", s.Title, "err", err)
			fmt.Fprintf(&md, "**FAILED**: %v\n\n```\n%s\n```\n\n", err, tail(outb, 30))
			continue
		}
		if len(s.Cmd) > 0 {
			md.Write(outb)
			md.WriteString("\n")
			continue
		}
		res := parse(outb)
		names := make([]string, 0, len(res))
		for n := range res {
			names = append(names, n)
		}
		sort.Strings(names)
		md.WriteString("```\n")
		for _, n := range names {
			md.WriteString(strings.TrimSpace(res[n].line))
			md.WriteString("\n")
		}
		md.WriteString("```\n\n")
		if len(s.Pairs) > 0 || len(s.Targets) > 0 {
			md.WriteString("| comparison | measured | target | verdict |\n|---|---|---|---|\n")
		}
		for _, p := range s.Pairs {
			r, ok := ratio(p, res)
			metric := p.Metric
			if metric == "" {
				metric = "ns/op"
			}
			verdict := "reported"
			if !ok {
				verdict = "missing"
			} else if p.Min > 0 {
				verdict = "meets"
				if r < p.Min {
					verdict = "**misses**"
				}
			}
			want := p.Want
			if want == "" {
				want = "-"
			}
			fmt.Fprintf(&md, "| %s vs %s (%s) | %.2fx | %s | %s |\n", p.Name, p.Baseline, metric, r, want, verdict)
		}
		for _, t := range s.Targets {
			r := res[t.Name]
			v := math.NaN()
			if r != nil {
				v = r.metrics[t.Metric]
			}
			verdict := "meets"
			switch {
			case r == nil:
				verdict = "missing"
			case t.Max == 0 && t.Min == 0:
				verdict = "reported"
			case t.Max > 0 && v > t.Max, t.Min > 0 && v < t.Min:
				verdict = "**misses**"
			}
			fmt.Fprintf(&md, "| %s %s | %s | %s | %s |\n", t.Name, t.Metric, strconv.FormatFloat(v, 'f', -1, 64), t.Want, verdict)
		}
		md.WriteString("\n")
		log.Info("suite done", "suite", s.Title, "took", time.Since(start).Round(time.Second))
	}
	if err := os.WriteFile(*out, []byte(md.String()), 0o644); err != nil {
		log.Error("write", "err", err)
		os.Exit(1)
	}
	log.Info("wrote", "file", *out, "failed_suites", failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
