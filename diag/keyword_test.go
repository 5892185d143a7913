package diag_test

import (
	"strings"
	"testing"

	"github.com/hotcold/hotcold/diag"
)

func TestParseKeywordRulesAcceptsTheEmbeddedDefaults(t *testing.T) {
	kr, err := diag.ParseKeywordRules(diag.DefaultRulesYAML())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range kr.Rules {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "dirty-data,out-of-memory,checkpoint-failure,kafka-connectivity,missing-class-or-udf" {
		t.Fatalf("rules %s", got)
	}
}

func TestParseKeywordRulesReportsEveryProblem(t *testing.T) {
	_, err := diag.ParseKeywordRules([]byte(`version: 1
rules:
  - name: a
    keywords: [x]
    cause: c
  - name: a
    cause: c
    suggestion: s
    keywords: [y]
    raw_message: ["(unclosed", "no group"]
    severity: error
`))
	if err == nil {
		t.Fatal("a bad rule file parsed")
	}
	for _, want := range []string{"rule 1 (a): suggestion is empty", "rule 2 (a): name is used twice", "(unclosed", "has no capture group"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestParseKeywordRulesRejectsUnknownFields(t *testing.T) {
	_, err := diag.ParseKeywordRules([]byte("version: 1\nrules:\n  - name: a\n    keyword: [x]\n    cause: c\n    suggestion: s\n"))
	if err == nil || !strings.Contains(err.Error(), "keyword") {
		t.Fatalf("error %v, want the misspelt field named", err)
	}
}

func TestACustomRuleClassifies(t *testing.T) {
	kr, err := diag.ParseKeywordRules([]byte(`version: 1
rules:
  - name: lookup-timeout
    severity: warning
    keywords: ["HBase lookup timed out"]
    cause: The dimension table lookup times out
    suggestion: Enable the lookup cache.
`))
	if err != nil {
		t.Fatal(err)
	}
	c := kr.Classify("java.lang.RuntimeException: wrapper\nCaused by: java.io.IOException: HBase lookup timed out after 3000 ms\n\tat x.Y.z(Y.java:1)\n")
	if c.Rule == nil || c.Rule.Name != "lookup-timeout" || c.Rule.Severity != diag.SeverityWarning || c.Root.Class != "java.io.IOException" {
		t.Fatalf("classification %+v", c)
	}
}

func TestParseStackTraceFindsTheRootCause(t *testing.T) {
	st := diag.ParseStackTrace("2026-11-22 ERROR task failed:\n" + jsonStack + "\tSuppressed: java.lang.IllegalStateException: closing\n\t\tat q.R.s(R.java:9)\n")
	if len(st.Causes) != 3 {
		t.Fatalf("causes %+v, want 3", st.Causes)
	}
	root, _ := st.Root()
	if root.Class != "com.fasterxml.jackson.core.JsonParseException" || len(root.Frames) != 1 || root.Frames[0] != "c.D.e(D.java:3)" ||
		!strings.Contains(root.Message, "[Source: UNKNOWN") {
		t.Fatalf("root %+v", root)
	}
}
