package main

import (
	"bytes"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestVersionPrintsVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "hotcold ") {
		t.Fatalf("version output %q", out)
	}
}

func TestHelpListsSubcommands(t *testing.T) {
	out, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCmd()
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if !strings.Contains(out, c.Name()) {
			t.Errorf("--help does not list %q", c.Name())
		}
	}
}

func TestRootHasEverySubcommand(t *testing.T) {
	var got []string
	for _, c := range newRootCmd().Commands() {
		if c.Name() != "help" && c.Name() != "completion" {
			got = append(got, c.Name())
		}
	}
	want := []string{"agg", "demo", "diag", "join", "load", "lookup", "migrate", "mock", "produce", "serve", "ui", "version"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("subcommands %v, want %v", got, want)
	}
}

func TestEverySubcommandHasAnExample(t *testing.T) {
	root := newRootCmd()
	for _, c := range allCommands(root) {
		if c.Runnable() && c.Example == "" && c.Name() != "help" && c.Name() != "completion" && c.Parent() != nil && c.Parent().Name() != "completion" {
			t.Errorf("%q has no --help example", c.CommandPath())
		}
	}
}
