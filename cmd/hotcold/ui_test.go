package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

// startUI runs hotcold ui with args until the test ends and returns its
// base URL.
func startUI(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	var out syncBuffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"ui", "--listen", "127.0.0.1:0"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hotcold ui: %v\n%s", err, out.String())
		}
	})
	re := regexp.MustCompile(`hotcold console on (http://\S+)/`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("hotcold ui ended: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hotcold ui did not start:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond) // polling the command's output
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, b)
	}
}

func postJSON(t *testing.T, base, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		json.Unmarshal(b, v)
	}
	return resp.StatusCode
}

// What hotcold demo --keep DIR adds is what hotcold ui --data DIR opens:
// the demo's cases run (on the console's in-process Kafka) to a pass and
// a fail, its report is listed, and the cold store's tables are shown.
func TestUIOpensWhatTheDemoKeeps(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := coldstore.Open(ctx, "pebble:"+filepath.Join(dir, "cold"), &coldstore.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	s := row.MustSchema([]row.Column{{Name: "order_id", Type: row.Int64}}, []string{"order_id"}, 1)
	if _, err := b.Load(ctx, coldstore.LoadSpec{Table: "orders", Version: "dt=2026-11-20", Key: []string{"order_id"},
		Source: coldstore.RowSource(s, []row.Row{row.New(row.Int64Value(1))})}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := seedConsole(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := seedConsole(ctx, dir); err != nil { // a rerun of the demo
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "admin.token")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v", err)
	}

	base := startUI(t, "--data", dir, "--log-level", "warn")
	var cases []struct{ Name string }
	getJSON(t, base+"/api/cases", &cases)
	if len(cases) != 2 || cases[0].Name != "accounts" || cases[1].Name != "accounts-stale-expectation" {
		t.Fatalf("cases %+v", cases)
	}
	for name, want := range map[string]string{"accounts": "pass", "accounts-stale-expectation": "fail"} {
		var job struct{ ID string }
		if code := postJSON(t, base, "/api/cases/"+name+"/run", &job); code != http.StatusAccepted {
			t.Fatalf("run %s: %d", name, code)
		}
		for {
			var v struct {
				State, Error string
				Summary      *struct{ Verdict string }
			}
			getJSON(t, base+"/api/jobs/"+job.ID, &v)
			if v.State != "running" {
				if v.Summary == nil || v.Summary.Verdict != want {
					t.Fatalf("%s: %+v (want %s)", name, v, want)
				}
				break
			}
			time.Sleep(20 * time.Millisecond) // polling the run
		}
	}
	var reports []struct{ Path, Verdict string }
	getJSON(t, base+"/api/reports", &reports)
	if len(reports) != 1 || !strings.HasPrefix(reports[0].Path, "orders-agg/") {
		t.Fatalf("reports %+v", reports)
	}
	var cold struct {
		Tables []struct {
			Table, Live string
			Versions    []struct{ Version string }
		}
	}
	getJSON(t, base+"/api/cold", &cold)
	if len(cold.Tables) != 2 || cold.Tables[0].Table != "cities" || cold.Tables[0].Live != "v2" || len(cold.Tables[0].Versions) != 2 ||
		cold.Tables[1].Live != "dt=2026-11-20" {
		t.Fatalf("cold %+v", cold)
	}
	// The demo's admin token rolls cities back.
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/cold/cities/rollback", strings.NewReader(`{"admin_token":"`+strings.TrimSpace(string(tok))+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ti struct{ Name, Version string }
	json.NewDecoder(resp.Body).Decode(&ti)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || ti.Version != "v1" {
		t.Fatalf("rollback: %d %+v", resp.StatusCode, ti)
	}
	var migrations []any
	getJSON(t, base+"/api/migrations", &migrations)
	if len(migrations) != 0 {
		t.Fatalf("migrations %+v", migrations)
	}
}

func TestUIRefusesAnOpenAddressWithoutAToken(t *testing.T) {
	_, err := run(t, "ui", "--listen", "0.0.0.0:0")
	if err == nil || !strings.Contains(err.Error(), "--token") {
		t.Fatalf("error %v", err)
	}
}
