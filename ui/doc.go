// Package ui is hotcold's web console: one http.Handler that serves an
// embedded page (plain HTML, CSS and JavaScript under assets/, no CDN, no
// build step) and JSON APIs over the packages that do the work. It owns
// no logic of its own: a case is checked by mock.LoadCaseFS, run by
// mock.Run and stored by mock.Store; a report is what diag wrote; a bypass
// run's stages are statemigrate's bypass.json; a rollback is the cold
// store's or the sidecar admin service's.
//
// # Areas
//
//   - Mock cases (Config.Mock, Config.MockOptions): the cases of a store with
//     their last result; the files of a case for the grid editor, every
//     CaseError placed at its file, line and cell; runs followed by polling
//     /api/jobs/ID; stored results with missing, unexpected and changed
//     cells; the run history.
//   - Diagnosis (Config.Reports): the report.json files under a directory,
//     and their report.html served with a script-free CSP.
//   - Migration (Config.Migrations, Config.Bypass): bypass work directories,
//     their seven stages, the log of each (BypassLog, split at the
//     "bypass: stage N/7" lines) and the compared offsets; resume and abort
//     call Config.Bypass, which hotcold ui wires to hotcold migrate bypass
//     with the arguments the run was started with (BypassArgsFile).
//   - Cold store (Config.Cold): versions live and kept, covers-until, rows,
//     freshness; rollback with the admin token the user types (SidecarCold
//     passes it to the sidecar, StoreCold compares it with its own).
//
// # Safety
//
// Server.Handler adds: a token (Config.Token) that every request carries
// (?token= once, then an HttpOnly cookie holding a digest of it, or a
// bearer header); without a token only loopback Host names are served, so
// a page of another site cannot reach the console by DNS rebinding;
// state-changing requests must be same-origin JSON (Sec-Fetch-Site, Origin
// and Content-Type are checked), so another site's page or form cannot
// make them; and a Content-Security-Policy of default-src 'self'. The page
// puts data in with textContent and input values only, never as HTML.
//
// # Example
//
//	store, _ := mock.OpenStore(ctx, "./cases-store")
//	srv, _ := ui.New(ui.Config{Mock: store, Reports: "./diag-reports"})
//	defer srv.Close()
//	http.ListenAndServe("127.0.0.1:7080", srv.Handler())
//
// # Concurrency
//
// A Server is safe for concurrent use. The runs it starts (mock runs,
// bypass resumes) run in goroutines it owns; Close cancels them and waits.
package ui

// doccheck:
//	var ctx context.Context
