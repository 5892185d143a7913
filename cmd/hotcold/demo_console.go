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

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/diag"
	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

// democonsole holds what hotcold demo --keep adds for the console: mock
// cases, and a lag history (diag's recorded skew scenario) to diagnose.
//
//go:embed democonsole
var democonsole embed.FS

// seedConsole writes into a kept demo directory what hotcold ui --data
// opens besides the demo's cold store: the mock cases in DIR/mock (as
// hotcold mock push stores them), a diagnosis report in DIR/diag (as diag
// run --out writes it), a small cities table loaded twice into DIR/cold
// (a kept version to roll back to), an empty DIR/bypass for bypass work
// directories, and the admin token of the rollbacks in DIR/admin.token.
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

	if err := loadCities(ctx, filepath.Join(dir, "cold")); err != nil {
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

// citiesSchema is a small dimension table loaded twice into the demo's
// cold store, so that the console has a kept version to roll back to.
var citiesSchema = row.MustSchema([]row.Column{{Name: "city", Type: row.String}, {Name: "region", Type: row.String, Nullable: true}}, []string{"city"}, 1)

// loadCities loads two versions of the cities table (the second renames a
// region) into the demo's cold store, unless it has them already.
func loadCities(ctx context.Context, coldDir string) error {
	b, err := coldstore.Open(ctx, "pebble:"+coldDir, &coldstore.Options{})
	if err != nil {
		return fmt.Errorf("open the demo's cold store: %w", err)
	}
	defer b.Close()
	have := map[string]bool{}
	if vs, err := b.Versions(ctx, "cities"); err == nil {
		for _, v := range vs {
			have[v.Version] = true
		}
	} else if !errors.Is(err, coldstore.ErrNoTable) {
		return err
	}
	for i, v := range []string{"v1", "v2"} {
		if have[v] {
			continue
		}
		east := "east"
		if i == 1 {
			east = "east coast"
		}
		rows := []row.Row{
			row.New(row.StringValue("beijing"), row.StringValue("north")),
			row.New(row.StringValue("shanghai"), row.StringValue(east)),
			row.New(row.StringValue("guangzhou"), row.StringValue("south")),
		}
		if _, err := b.Load(ctx, coldstore.LoadSpec{Table: "cities", Version: v, Key: []string{"city"}, Source: coldstore.RowSource(citiesSchema, rows)}); err != nil {
			return fmt.Errorf("load cities %s into the demo's cold store: %w", v, err)
		}
	}
	return nil
}
