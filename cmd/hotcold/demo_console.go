package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/hotcold/hotcold/diag"
	"github.com/hotcold/hotcold/mock"
)

// democonsole holds what hotcold demo --keep adds for the console: mock
// cases, and a lag history (diag's recorded skew scenario) to diagnose.
//
//go:embed democonsole
var democonsole embed.FS

// seedConsole writes into a kept demo directory what hotcold ui --data
// opens besides the cold store: the mock cases in DIR/mock (as hotcold
// mock push stores them), a diagnosis report in DIR/diag (as diag run
// --out writes it), an empty DIR/bypass for bypass work directories, and
// the admin token of the cold store's rollbacks in DIR/admin.token.
func seedConsole(ctx context.Context, dir string) error {
	store, err := mock.OpenStore(ctx, filepath.Join(dir, "mock"))
	if err != nil {
		return err
	}
	defer store.Close()
	cases, err := fs.ReadDir(democonsole, "democonsole/cases")
	if err != nil {
		return err
	}
	for _, e := range cases {
		c, err := mock.LoadCaseFS(democonsole, path.Join("democonsole/cases", e.Name()))
		if err != nil {
			return fmt.Errorf("demo case %s: %w", e.Name(), err)
		}
		c.Name = e.Name()
		if _, err := store.SaveCase(ctx, c); err != nil {
			return err
		}
	}

	lag, err := democonsole.ReadFile("democonsole/lag.jsonl")
	if err != nil {
		return err
	}
	samples, err := diag.ReadSamples(bytes.NewReader(lag))
	if err != nil {
		return err
	}
	if len(samples) == 0 {
		return errors.New("demo lag history is empty")
	}
	w := diag.Window{From: samples[0].Time, To: samples[len(samples)-1].Time.Add(1)}
	statuses, _, err := diag.Replay(samples, diag.LagConfig{}, w)
	if err != nil {
		return err
	}
	d, err := diag.NewDiagnoser(diag.DiagnoserConfig{})
	if err != nil {
		return err
	}
	r := d.Diagnose(ctx, diag.Query{Group: samples[0].Group, Window: w, Lag: statuses})
	prefix := samples[0].Group + "/" + w.From.UTC().Format("20060102T150405Z") + "-replayed"
	if _, err := diag.WriteReport(ctx, diag.DirSink{Dir: filepath.Join(dir, "diag")}, prefix, r); err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Join(dir, "bypass"), 0o755); err != nil {
		return err
	}
	tok := filepath.Join(dir, "admin.token")
	if _, err := os.Stat(tok); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(tok, []byte(rand.Text()+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}
