package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/sidecar"
	"github.com/hotcold/hotcold/ui"
)

func decode[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v\n%s", resp.Request.URL, err, b)
	}
	return v
}

func TestStateChangingRequestsFromAnotherOriginAreRefused(t *testing.T) {
	e := newServer(t, ui.Config{Mock: mockStore(t)})
	body := `{"files":{}}`
	for _, tc := range []struct {
		name    string
		headers map[string]string
	}{
		{"another origin", map[string]string{"Origin": "http://evil.example", "Content-Type": "application/json"}},
		{"a cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}},
		{"a same-site fetch from another port", map[string]string{"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}},
		{"a form post", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
		{"a text/plain post", map[string]string{"Content-Type": "text/plain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, e.http.URL+"/api/cases/accounts", strings.NewReader(body))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
		})
	}
	// The case is untouched.
	back, err := e.store.LoadCase(context.Background(), "accounts")
	if err != nil || len(back.Steps()) != 4 {
		t.Fatalf("case after refused writes: %v", err)
	}
}

func TestEveryAnswerCarriesTheContentSecurityPolicy(t *testing.T) {
	e := newServer(t, ui.Config{Mock: mockStore(t)})
	for _, p := range []string{"/", "/app.js", "/api/cases", "/api/nope"} {
		resp := e.do(t, http.MethodGet, p, "")
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", p)
		}
	}
	page := e.do(t, http.MethodGet, "/", "")
	b, _ := io.ReadAll(page.Body)
	if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
		t.Errorf("the page loads something from elsewhere:\n%s", b)
	}
}

func TestWithoutATokenOnlyLoopbackNamesAreServed(t *testing.T) {
	e := newServer(t, ui.Config{Mock: mockStore(t)})
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/api/cases", nil)
	req.Host = "attacker.example:7080" // a DNS-rebound name
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("status %d, want 421", resp.StatusCode)
	}
	for addr, want := range map[string]bool{"127.0.0.1:7080": true, "localhost:1": true, "[::1]:7080": true, "0.0.0.0:7080": false, "10.1.2.3:80": false, ":7080": false} {
		if got := ui.LoopbackHost(addr); got != want {
			t.Errorf("LoopbackHost(%q) = %v", addr, got)
		}
	}
}

func TestATokenIsRequiredAndNeverSentBack(t *testing.T) {
	const token = "s3cret-token-0123456789"
	e := newServer(t, ui.Config{Mock: mockStore(t), Token: token})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, cookie *http.Cookie, bearer string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, e.http.URL+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := get("/api/cases", nil, ""); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without token: %d", r.StatusCode)
	}
	if r := get("/?token=wrong", nil, ""); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", r.StatusCode)
	}
	r := get("/?token="+token, nil, "")
	if r.StatusCode != http.StatusSeeOther || strings.Contains(r.Header.Get("Location"), token) {
		t.Fatalf("token login: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	cookies := r.Cookies()
	if len(cookies) != 1 || strings.Contains(cookies[0].Value, token) || !cookies[0].HttpOnly {
		t.Fatalf("cookie %+v", cookies)
	}
	ok := get("/api/cases", cookies[0], "")
	b, _ := io.ReadAll(ok.Body)
	if ok.StatusCode != http.StatusOK || strings.Contains(string(b), token) {
		t.Fatalf("with the cookie: %d %s", ok.StatusCode, b)
	}
	if r := get("/api/cases", nil, token); r.StatusCode != http.StatusOK {
		t.Fatalf("bearer: %d", r.StatusCode)
	}
	if r := get("/api/cases", &http.Cookie{Name: "hotcold_ui_token", Value: token}, ""); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the raw token as cookie: %d", r.StatusCode)
	}
}

func TestCaseProblemsArePlacedAtTheirCells(t *testing.T) {
	e := newServer(t, ui.Config{Mock: mockStore(t)})
	files := accountsFiles()
	files["changes.jsonl"] = strings.Replace(files["changes.jsonl"], `"id":1,"owner":"ann","balance":"10.00"}}`, `"id":"one","owner":"ann","balance":"10.00"}}`, 1)
	files["changes.jsonl"] = strings.Replace(files["changes.jsonl"], `"op":"+U"`, `"op":"+U","after":"soon"`, 1)
	files["expected.jsonl"] = strings.Replace(files["expected.jsonl"], `"balance":"7.50"`, `"balance":"seven"`, 1)
	b, _ := json.Marshal(map[string]any{"files": files})
	resp := e.do(t, http.MethodPut, "/api/cases/accounts", string(b))
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", resp.StatusCode)
	}
	type cellErr struct {
		File, Cell, Problem, Text string
		Line                      int
	}
	d := decode[struct{ Errors []cellErr }](t, resp)
	want := map[string]bool{"changes.jsonl:1:row.id": false, "changes.jsonl:4:after": false, "expected.jsonl:1:row.balance": false}
	for _, ce := range d.Errors {
		k := ce.File + ":" + strconv.Itoa(ce.Line) + ":" + ce.Cell
		if _, ok := want[k]; ok {
			want[k] = true
		}
		if !strings.HasPrefix(ce.Text, ce.File+":") {
			t.Errorf("text %q does not start with its file", ce.Text)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no problem at %s in %+v", k, d.Errors)
		}
	}
	back, err := e.store.LoadCase(context.Background(), "accounts")
	if err != nil || !strings.Contains(string(back.Files()[1].Data)+string(back.Files()[2].Data), `"id":1,`) {
		t.Fatalf("an invalid case was stored: %v", err)
	}
	// A valid edit is stored.
	files = accountsFiles()
	files["changes.jsonl"] += `{"op":"+I","row":{"id":3,"owner":"cy","balance":"5.00"},"after":"20ms"}` + "\n"
	b, _ = json.Marshal(map[string]any{"files": files})
	resp = e.do(t, http.MethodPut, "/api/cases/accounts", string(b))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("valid save: %d", resp.StatusCode)
	}
	saved := decode[struct {
		Steps []struct {
			WaitMS int64 `json:"wait_ms"`
			AtMS   int64 `json:"at_ms"`
		} `json:"steps"`
	}](t, resp)
	if len(saved.Steps) != 5 || saved.Steps[4].WaitMS != 20 {
		t.Fatalf("schedule after the save: %+v", saved.Steps)
	}
	back, err = e.store.LoadCase(context.Background(), "accounts")
	if err != nil || len(back.Steps()) != 5 {
		t.Fatalf("stored case: %v", err)
	}
}

func TestACaseRunsAndItsDiffMarksTheChangedCell(t *testing.T) {
	brokers := kafka(t)
	store := mockStore(t)
	e := newServer(t, ui.Config{Mock: store, MockOptions: runOptions(brokers)})
	files := accountsFiles()
	files["expected.jsonl"] = strings.Replace(files["expected.jsonl"], `"balance":"7.50"`, `"balance":"8.50"`, 1)
	b, _ := json.Marshal(map[string]any{"files": files})
	if r := e.do(t, http.MethodPut, "/api/cases/accounts", string(b)); r.StatusCode != http.StatusOK {
		t.Fatalf("save: %d", r.StatusCode)
	}
	run := func() *mock.Summary {
		resp := e.do(t, http.MethodPost, "/api/cases/accounts/run", "{}")
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("run: %d", resp.StatusCode)
		}
		job := decode[struct{ ID string }](t, resp)
		for {
			v := decode[struct {
				State   string
				Error   string
				Summary *mock.Summary
			}](t, e.do(t, http.MethodGet, "/api/jobs/"+job.ID, ""))
			if v.State != "running" {
				if v.Summary == nil {
					t.Fatalf("run ended without a result: %s", v.Error)
				}
				return v.Summary
			}
			waitBriefly()
		}
	}
	sum := run()
	if sum.Verdict != mock.Fail {
		t.Fatalf("verdict %s: %s", sum.Verdict, sum.Reason)
	}
	type result struct {
		Columns []string
		Rows    []struct {
			Mark     string
			Cells    map[string]string
			Expected map[string]string
		}
	}
	res := decode[result](t, e.do(t, http.MethodGet, "/api/cases/accounts/runs/"+sum.RunID, ""))
	var changed int
	for _, r := range res.Rows {
		if r.Mark == "changed" {
			changed++
			if r.Cells["balance"] != "7.50" || r.Expected["balance"] != "8.50" || len(r.Expected) != 1 {
				t.Errorf("changed row %+v", r)
			}
		}
	}
	if changed != 1 || strings.Join(res.Columns, ",") != "id,owner,balance" {
		t.Fatalf("result %+v", res)
	}
	b, _ = json.Marshal(map[string]any{"files": accountsFiles()})
	if r := e.do(t, http.MethodPut, "/api/cases/accounts", string(b)); r.StatusCode != http.StatusOK {
		t.Fatalf("save: %d", r.StatusCode)
	}
	if sum := run(); sum.Verdict != mock.Pass {
		t.Fatalf("after the fix: %s %s", sum.Verdict, sum.Reason)
	}
	hist := decode[[]mock.Summary](t, e.do(t, http.MethodGet, "/api/cases/accounts/runs", ""))
	if len(hist) != 2 || hist[0].Verdict != mock.Pass || hist[1].Verdict != mock.Fail {
		t.Fatalf("history %+v", hist)
	}
	list := decode[[]struct {
		Name string
		Runs int
		Last *mock.Summary
	}](t, e.do(t, http.MethodGet, "/api/cases", ""))
	if len(list) != 1 || list[0].Runs != 2 || list[0].Last == nil || list[0].Last.Verdict != mock.Pass {
		t.Fatalf("case list %+v", list)
	}
	metrics := e.do(t, http.MethodGet, "/metrics", "")
	mb, _ := io.ReadAll(metrics.Body)
	for _, want := range []string{`hotcold_ui_actions_total{action="mock-run",outcome="fail"} 1`, `hotcold_ui_actions_total{action="mock-run",outcome="pass"} 1`, `hotcold_ui_requests_total{code="202",route="case-run"} 2`} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestReportsAreListedAndServedFromTheirDirectoryOnly(t *testing.T) {
	dir := t.TempDir()
	writeReport(t, dir, "orders-enrich/20261122T100000Z/001-start")
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newServer(t, ui.Config{Reports: dir})
	list := decode[[]struct {
		Path, Group, Verdict string
		HTML                 bool
	}](t, e.do(t, http.MethodGet, "/api/reports", ""))
	if len(list) != 1 || list[0].Path != "orders-enrich/20261122T100000Z/001-start" || !list[0].HTML || list[0].Verdict == "" {
		t.Fatalf("reports %+v", list)
	}
	resp := e.do(t, http.MethodGet, "/reports/"+list[0].Path+"/report.html", "")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "<svg") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("report.html: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	for _, p := range []string{"/reports/../secret.txt", "/reports/%2e%2e/secret.txt", "/reports/orders-enrich/x/case.yaml"} {
		if r := e.do(t, http.MethodGet, p, ""); r.StatusCode == http.StatusOK {
			t.Errorf("%s served", p)
		}
	}
}

func TestRollbackNeedsTheAdminTokenAndSwitchesTheLiveVersion(t *testing.T) {
	const admin = "admin-token-42"
	b := coldStore(t)
	now := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	e := newServer(t, ui.Config{Cold: ui.StoreCold(b, "pebble:test", admin), Now: func() time.Time { return now }})
	type table struct {
		Table, Live   string
		Rows          int64
		BehindSeconds float64 `json:"covers_until_behind_seconds"`
		Versions      []struct {
			Version string
			Live    bool
		}
	}
	list := decode[struct{ Tables []table }](t, e.do(t, http.MethodGet, "/api/cold", ""))
	if len(list.Tables) != 1 || list.Tables[0].Live != "dt=2026-11-22" || list.Tables[0].Rows != 4 || len(list.Tables[0].Versions) != 2 || list.Tables[0].BehindSeconds != 6*3600 {
		t.Fatalf("tables %+v", list)
	}
	for _, tok := range []string{"", "wrong"} {
		resp := e.do(t, http.MethodPost, "/api/cold/orders/rollback", `{"to":"dt=2026-11-21","admin_token":"`+tok+`"}`)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Fatalf("token %q: %d", tok, resp.StatusCode)
		}
		if strings.Contains(string(body), admin) {
			t.Fatalf("the admin token was echoed: %s", body)
		}
	}
	resp := e.do(t, http.MethodPost, "/api/cold/orders/rollback", `{"to":"dt=2026-11-21","admin_token":"`+admin+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rollback: %d", resp.StatusCode)
	}
	list = decode[struct{ Tables []table }](t, e.do(t, http.MethodGet, "/api/cold", ""))
	if list.Tables[0].Live != "dt=2026-11-21" || list.Tables[0].Rows != 3 {
		t.Fatalf("after rollback %+v", list)
	}
}

func TestABypassRunIsShownStageByStageAndResumedToItsEnd(t *testing.T) {
	dir, resume := bypassRun(t)
	e := newServer(t, ui.Config{Migrations: dir, Bypass: resume})
	type view struct {
		Name, Running, Error string
		Done, Total          int
		Stages               []struct {
			State string
			Log   []string
		}
		OffsetsEqual *bool `json:"offsets_equal"`
	}
	list := decode[[]view](t, e.do(t, http.MethodGet, "/api/migrations", ""))
	if len(list) != 1 || list[0].Name != "refunds-v2" || list[0].Done != 2 || list[0].Total != 7 || list[0].Stages[1].State != "done" || list[0].Stages[2].State != "pending" {
		t.Fatalf("migrations %+v", list)
	}
	if len(list[0].Stages[0].Log) == 0 {
		t.Fatalf("no log for stage 1")
	}
	if r := e.do(t, http.MethodPost, "/api/migrations/refunds-v2/resume", "{}"); r.StatusCode != http.StatusAccepted {
		t.Fatalf("resume: %d", r.StatusCode)
	}
	var v view
	for {
		v = decode[view](t, e.do(t, http.MethodGet, "/api/migrations/refunds-v2", ""))
		if v.Running == "" {
			break
		}
		waitBriefly()
	}
	if v.Error != "" || v.Done != 7 || v.OffsetsEqual == nil || !*v.OffsetsEqual {
		t.Fatalf("after resume %+v", v)
	}
	for i, s := range v.Stages {
		if s.State != "done" || len(s.Log) == 0 {
			t.Errorf("stage %d: %s with %d log lines", i+1, s.State, len(s.Log))
		}
	}
}

// waitBriefly paces a loop that polls the server for a condition.
func waitBriefly() { time.Sleep(20 * time.Millisecond) }

// Through a running hotcold serve, the admin service is the judge of the
// token: the console passes the typed token on, and the sidecar's
// lookups answer from the rolled-back version.
func TestRollbackThroughTheSidecarUsesItsAdminService(t *testing.T) {
	const admin = "sidecar-admin-token-9"
	store := coldStore(t)
	srv, err := sidecar.NewServer(store, sidecar.Options{AdminToken: admin, Registerer: prometheus.NewRegistry(),
		Jobs: []sidecar.Job{{Name: "reader", Token: "reader-token", Tables: []string{"orders"}}}})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	e := newServer(t, ui.Config{Cold: ui.SidecarCold(lis.Addr().String(), admin)})
	type table struct{ Table, Live string }
	list := decode[struct{ Tables []table }](t, e.do(t, http.MethodGet, "/api/cold", ""))
	if len(list.Tables) != 1 || list.Tables[0].Live != "dt=2026-11-22" {
		t.Fatalf("tables %+v", list)
	}
	for _, tok := range []string{"reader-token", "nope"} {
		if r := e.do(t, http.MethodPost, "/api/cold/orders/rollback", `{"admin_token":"`+tok+`"}`); r.StatusCode != http.StatusForbidden {
			t.Fatalf("token %q: %d", tok, r.StatusCode)
		}
	}
	if r := e.do(t, http.MethodPost, "/api/cold/orders/rollback", `{"admin_token":"`+admin+`"}`); r.StatusCode != http.StatusOK {
		t.Fatalf("rollback: %d", r.StatusCode)
	}
	list = decode[struct{ Tables []table }](t, e.do(t, http.MethodGet, "/api/cold", ""))
	if list.Tables[0].Live != "dt=2026-11-21" {
		t.Fatalf("after rollback %+v", list)
	}
}
