package sidecar_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/sidecar"
)

// pythonWithGrpc returns a Python interpreter that has grpcio and
// grpc_tools. It skips the test when there is none, unless
// HOTCOLD_REQUIRE_PYTHON_GRPC is set (as in CI), where it fails.
func pythonWithGrpc(t *testing.T) string {
	t.Helper()
	py := os.Getenv("HOTCOLD_PYTHON")
	if py == "" {
		// Debian's python3-grpcio and python3-grpc-tools install into the
		// system interpreter, not into a pyenv one that may come first on
		// PATH.
		py = "/usr/bin/python3"
	}
	out, err := exec.Command(py, "-c", "import grpc, grpc_tools.protoc").CombinedOutput()
	if err != nil {
		msg := "python with grpcio and grpc_tools not available (" + py + ": " + strings.TrimSpace(string(out)) + "); install python3-grpcio and python3-grpc-tools"
		if os.Getenv("HOTCOLD_REQUIRE_PYTHON_GRPC") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

func TestPythonGrpcioClient(t *testing.T) {
	py := pythonWithGrpc(t)
	sc := startSidecar(t, newMemory(t), sidecar.Options{Jobs: []sidecar.Job{
		{Name: "pyjob", Token: "tok-py", Tables: []string{"orders"}},
	}})
	protoDir, err := filepath.Abs("../proto")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/python_client.py", protoDir, t.TempDir(), "tok-py", sc.tcp, sc.unix)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, stderr.String())
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python output: %v\n%s", err, out)
	}
	for _, addr := range []string{sc.tcp, sc.unix} {
		seen := got[addr]
		if seen == nil {
			t.Fatalf("no results for %s in %s", addr, out)
		}
		want := map[string]any{
			"lookup": map[string]any{
				"found": true, "version": "v1", "customer": "c2@v1", "amount": "2.05",
				"created": float64(1_763_800_000_002), "note": "even", "covers_until": "2026-11-22T00:00:00Z",
			},
			"null_note": "null_value",
			"batch":     []any{[]any{true, float64(7)}, []any{false, nil}, []any{true, float64(8)}},
			"stream":    []any{[]any{float64(1), float64(1)}, []any{float64(2), float64(2)}, []any{float64(3), float64(3)}, []any{float64(4), float64(4)}, []any{float64(5), float64(5)}},
			"describe": map[string]any{
				"version": "v1", "rows": float64(100), "key": []any{"order_id"},
				"types": []any{"int64", "string", "decimal128(18, 2)", "timestamp[ms]", "string"},
			},
			"tables": []any{"orders"},
			"denied": "PERMISSION_DENIED",
		}
		for k, w := range want {
			if !reflect.DeepEqual(seen[k], w) {
				t.Errorf("%s: %s = %#v, want %#v", addr, k, seen[k], w)
			}
		}
		if bad, _ := seen["bad_key"].(string); !strings.HasPrefix(bad, "INVALID_ARGUMENT: key.values[0]") {
			t.Errorf("%s: bad key answered %q, want INVALID_ARGUMENT naming key.values[0]", addr, bad)
		}
	}
}
