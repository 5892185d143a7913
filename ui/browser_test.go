package ui_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/hotcold/hotcold/ui"
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

// browser drives one headless Chromium for a test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // directory of the screenshots

	mu         sync.Mutex
	exceptions []string // uncaught exceptions of the page
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	bin := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900), chromedp.Flag("hide-scrollbars", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	shot := os.Getenv("HOTCOLD_UI_SCREENSHOTS")
	if shot == "" {
		shot = t.TempDir()
	} else if err := os.MkdirAll(shot, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, ctx: ctx, base: base, shot: shot}
	b.do(chromedp.EmulateViewport(1400, 900)) // starts the browser
	// confirm() dialogs (abort, rollback) are accepted, as a user would.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				return
			}
		}
	}()
	// Uncaught exceptions are collected, and so are the page's Content
	// Security Policy violations (by a script the browser runs in every
	// new document, outside the page's policy).
	excs := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range excs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.exceptions = append(b.exceptions, ev.ExceptionDetails.Text+" "+ev.ExceptionDetails.URL)
			b.mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `document.addEventListener('securitypolicyviolation', e => { (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI); });`}); err != nil {
		t.Fatal(err)
	}
	return b
}

// clean fails the test on an uncaught exception or a CSP violation so far.
func (b *browser) clean() {
	b.t.Helper()
	b.mu.Lock()
	excs := append([]string(nil), b.exceptions...)
	b.mu.Unlock()
	if len(excs) > 0 {
		b.t.Errorf("uncaught exceptions in the page: %q", excs)
	}
	if csp := evalIn[string](b, `JSON.stringify(window.__csp || [])`); csp != "[]" {
		b.t.Errorf("Content Security Policy violations: %s", csp)
	}
}

func (b *browser) fail(err error) {
	b.t.Helper()
	dump, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('main') ? document.getElementById('main').innerText.slice(0, 3000) : ''`))
	b.t.Fatalf("browser: %v\npage:\n%s", err, dump)
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail(err)
	}
}

// until waits for a JavaScript condition in the page.
func (b *browser) until(expr string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.fail(fmt.Errorf("waiting for %s: %w", expr, err))
	}
}

func evalIn[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail(err)
	}
	return v
}

func (b *browser) open(hash string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + "/" + hash))
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(sel)))
}

// setCell types text into a grid cell as a user does (the value, then an
// input event).
func (b *browser) setCell(row int, cell, text string) {
	b.t.Helper()
	ok := evalIn[bool](b, fmt.Sprintf(`(() => { const i = document.querySelector('input[data-row="%d"][data-cell="%s"]'); if (!i) return false;
		i.focus(); i.value = %q; i.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, row, cell, text))
	if !ok {
		b.t.Fatalf("no cell %s in row %d", cell, row)
	}
}

// screenshot writes the page as a PNG.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail(err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// fits checks the page at 1400 and 800 px: no horizontal overflow.
func (b *browser) fits(name string) {
	b.t.Helper()
	for _, w := range []int64{1400, 800} {
		b.do(chromedp.EmulateViewport(w, 900))
		m := evalIn[struct{ ScrollWidth, InnerWidth float64 }](b, `({ScrollWidth: document.documentElement.scrollWidth, InnerWidth: innerWidth})`)
		if m.InnerWidth != float64(w) || m.ScrollWidth > m.InnerWidth {
			b.t.Errorf("%s at %d px: scrollWidth %v > innerWidth %v (horizontal overflow)", name, w, m.ScrollWidth, m.InnerWidth)
		}
		b.screenshot(fmt.Sprintf("%s-%d", name, w))
	}
	b.do(chromedp.EmulateViewport(1400, 900))
}

// TestConsoleInChromium uses the console as a person would, in headless
// Chromium: a mock case is edited, run, fails on the edited cell, is
// fixed and passes (with hostile values in its messages that must stay
// text); a diagnosis report opens with its lag chart; a bypass rebuild is
// resumed and followed to its end; a cold table is rolled back with the
// admin token. Each page is checked at 1400 and 800 px.
func TestConsoleInChromium(t *testing.T) {
	chromium(t)
	const admin = "console-admin-token-7"
	reports := t.TempDir()
	writeReport(t, reports, "orders-enrich/20261122T100000Z/001-start")
	migrations, resume := bypassRun(t)
	e := newServer(t, ui.Config{Mock: mockStore(t), MockOptions: runOptions(kafka(t)), Reports: reports,
		Migrations: migrations, Bypass: resume, Cold: ui.StoreCold(coldStore(t), "pebble:cold", admin)})
	b := newBrowser(t, e.http.URL)
	t.Logf("screenshots in %s", b.shot)

	t.Run("mock", func(t *testing.T) {
		b.t = t
		b.open("#/cases")
		b.until(`!!document.querySelector('#cases a[href="#/cases/accounts"]')`)
		b.fits("cases")
		b.open("#/cases/accounts")
		b.until(`document.querySelectorAll('table.grid tr[data-line]').length === 4`)
		// Hostile values are shown as text, in inputs; no script ran.
		owner := evalIn[string](b, `document.querySelector('input[data-row="1"][data-cell="row.owner"]').value`)
		note := evalIn[string](b, `document.querySelector('input[data-row="1"][data-cell="note"]').value`)
		if owner != hostileImg || note != hostileScript {
			t.Fatalf("hostile values shown as %q and %q", owner, note)
		}
		// A value the column cannot hold is refused at its cell, with the
		// server's own message.
		b.setCell(0, "row.id", "one")
		b.until(`!!document.querySelector('td.invalid input[data-row="0"][data-cell="row.id"]')`)
		msg := evalIn[string](b, `document.querySelector('input[data-row="0"][data-cell="row.id"]').parentElement.querySelector('.cell-error').textContent`)
		if !strings.Contains(msg, `"one"`) {
			t.Fatalf("cell message %q", msg)
		}
		b.screenshot("case-invalid-cell")
		b.setCell(0, "row.id", "1")
		b.until(`!document.querySelector('td.invalid') && document.querySelector('#case-errors .ok') !== null`)
		// Rows are copied, removed and reordered.
		ids := func() string {
			return evalIn[string](b, `Array.from(document.querySelectorAll('input[data-cell="row.id"]')).map(i => i.value).join(',')`)
		}
		b.click(`button[aria-label="duplicate row 2"]`)
		b.until(`document.querySelectorAll('table.grid tr[data-line]').length === 5`)
		b.click(`button[aria-label="move row 2 down"]`)
		if got := ids(); got != "1,2,2,1,1" {
			t.Fatalf("ids after copy and move: %s", got)
		}
		b.click(`button[aria-label="remove row 3"]`)
		b.until(`document.querySelectorAll('table.grid tr[data-line]').length === 4`)
		b.click(`button[aria-label="move row 3 up"]`)
		b.click(`button[aria-label="move row 2 down"]`)
		if got := ids(); got != "1,2,1,1" {
			t.Fatalf("ids after remove and moves: %s", got)
		}
		// Edit the last balance: the merged table no longer matches.
		b.setCell(3, "row.balance", "8.50")
		b.until(`document.querySelector('#case-errors .ok') !== null && !document.querySelector('td.invalid')`)
		b.click("#run")
		b.until(`document.querySelector('#verdict') && document.querySelector('#verdict').dataset.verdict === 'fail'`)
		cell := evalIn[string](b, `document.querySelector('#diff tr[data-mark="changed"] td.cell-changed[data-col="balance"]').textContent`)
		if cell != "8.50expected 7.50" {
			t.Fatalf("changed cell reads %q", cell)
		}
		b.fits("case-failed")
		// Fix it: the case passes.
		b.setCell(3, "row.balance", "7.50")
		b.until(`document.querySelector('#case-errors .ok') !== null`)
		b.click("#run")
		b.until(`document.querySelector('#verdict') && document.querySelector('#verdict').dataset.verdict === 'pass'`)
		b.until(`document.querySelectorAll('#runs tr').length === 3`) // header + 2 runs
		marks := evalIn[int](b, `document.querySelectorAll('#diff tr[data-mark]:not([data-mark="same"])').length`)
		if marks != 0 {
			t.Fatalf("%d rows marked in a passing result", marks)
		}
		shown := evalIn[string](b, `Array.from(document.querySelectorAll('#diff td[data-col="owner"]')).map(td => td.textContent).join('|')`)
		if !strings.Contains(shown, hostileImg) {
			t.Fatalf("the hostile owner is not shown as text: %q", shown)
		}
		// The expected table is a grid of the sink's columns.
		b.click(`button[data-tab="expect"]`)
		b.until(`document.querySelector('table.grid').dataset.file === 'expected.jsonl' && document.querySelectorAll('table.grid tr[data-line]').length === 2`)
		if got := evalIn[string](b, `document.querySelector('input[data-row="1"][data-cell="row.owner"]').value`); got != hostileImg {
			t.Fatalf("expected owner shown as %q", got)
		}
		b.fits("case-passed")
		pwned := evalIn[string](b, `String(window.__pwned)`)
		if pwned != "undefined" {
			t.Fatalf("case data ran as script: window.__pwned = %s", pwned)
		}
		b.open("#/cases")
		b.until(`!!document.querySelector('#cases .badge.pass')`)
		b.clean()
	})

	t.Run("diagnosis", func(t *testing.T) {
		b.t = t
		b.open("#/reports")
		b.until(`!!document.querySelector('#reports a')`)
		b.fits("reports")
		b.click("#reports a")
		b.until(`(() => { const f = document.getElementById('report-frame'); const d = f && f.contentDocument;
			return !!d && d.readyState === 'complete' && d.querySelectorAll('svg.chart').length > 0; })()`)
		verdict := evalIn[string](b, `document.getElementById('report-frame').contentDocument.getElementById('verdict').textContent`)
		if verdict == "" {
			t.Fatal("the report shows no verdict")
		}
		b.fits("report")
		b.clean()
	})

	t.Run("migration", func(t *testing.T) {
		b.t = t
		b.open("#/migrations")
		b.until(`!!document.querySelector('a[href="#/migrations/refunds-v2"]')`)
		b.fits("migrations")
		b.open("#/migrations/refunds-v2")
		b.until(`document.querySelectorAll('#stages .stage.done').length === 2`)
		b.click("#resume")
		b.until(`document.querySelector('#migration-state') && document.querySelector('#migration-state').dataset.done === '7' && document.querySelector('#resume').disabled`)
		eq := evalIn[string](b, `document.getElementById('offsets-equal').textContent`)
		done := evalIn[int](b, `document.querySelectorAll('#stages .stage.done').length`)
		if eq != "yes, per partition" || done != 7 {
			t.Fatalf("after the resume: %d stages done, offsets equal %q", done, eq)
		}
		// Open the last stage's log, as a click on its summary does.
		evalIn[bool](b, `document.querySelector('details[data-stage="7"]').open = true`)
		log := evalIn[string](b, `document.querySelector('details[data-stage="7"] pre').textContent`)
		if !strings.Contains(log, "online-switched") {
			t.Fatalf("stage 7 log:\n%s", log)
		}
		b.fits("migration-done")
		b.clean()
	})

	t.Run("cold", func(t *testing.T) {
		b.t = t
		b.open("#/cold")
		b.until(`!!document.querySelector('tr[data-version="dt=2026-11-21"] button.rollback')`)
		b.fits("cold")
		b.do(chromedp.SendKeys(chromedp.CSS("#admin-token"), "not-the-token"), chromedp.Click(chromedp.CSS(`tr[data-version="dt=2026-11-21"] button.rollback`)))
		b.until(`!!document.querySelector('#cold-msg .errors')`)
		refused := evalIn[string](b, `document.querySelector('#cold-msg').textContent`)
		if !strings.Contains(refused, "wrong admin token") {
			t.Fatalf("refusal reads %q", refused)
		}
		evalIn[string](b, `document.getElementById('admin-token').value = ''`)
		b.do(chromedp.SendKeys(chromedp.CSS("#admin-token"), admin),
			chromedp.Click(chromedp.CSS(`tr[data-version="dt=2026-11-21"] button.rollback`)))
		b.until(`!!document.querySelector('#rollback-done')`)
		live := evalIn[string](b, `document.querySelector('[data-table="orders"] h2').textContent`)
		html := evalIn[string](b, `document.documentElement.outerHTML`)
		if !strings.Contains(live, "live dt=2026-11-21") {
			t.Fatalf("after the rollback the table reads %q", live)
		}
		if strings.Contains(html, admin) {
			t.Fatal("the admin token is in the page")
		}
		b.fits("cold-rolled-back")
		b.clean()
	})
}
