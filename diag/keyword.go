package diag

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed rules.yaml
var defaultRulesYAML []byte

// DefaultRulesYAML returns the embedded default keyword rule file, a
// starting point for a custom one.
func DefaultRulesYAML() []byte { return bytes.Clone(defaultRulesYAML) }

// KeywordRule classifies a failure by keywords of its exceptions.
type KeywordRule struct {
	Name       string   `yaml:"name"`
	Severity   Severity `yaml:"severity"`
	Keywords   []string `yaml:"keywords"`
	Cause      string   `yaml:"cause"`
	Suggestion string   `yaml:"suggestion"`
	// RawMessage are regular expressions whose first capture group is the
	// raw record that caused the failure.
	RawMessage []string `yaml:"raw_message"`

	raw   []*regexp.Regexp
	lower []string
}

// KeywordRules is a parsed rule file.
type KeywordRules struct {
	Version int           `yaml:"version"`
	Rules   []KeywordRule `yaml:"rules"`
}

// DefaultKeywordRules parses the embedded rule file.
func DefaultKeywordRules() *KeywordRules {
	kr, err := ParseKeywordRules(defaultRulesYAML)
	if err != nil {
		panic("diag: embedded rules.yaml is invalid: " + err.Error())
	}
	return kr
}

// ParseKeywordRules parses and validates a YAML keyword rule file (see the
// embedded default, DefaultRulesYAML, for the format). Unknown fields are
// errors, so a typo is reported instead of ignored; every problem found is
// reported in one error.
func ParseKeywordRules(data []byte) (*KeywordRules, error) {
	var kr KeywordRules
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&kr); err != nil {
		return nil, fmt.Errorf("diag: rule file: %w", err)
	}
	var problems []string
	if kr.Version != 1 {
		problems = append(problems, fmt.Sprintf("version is %d, want 1", kr.Version))
	}
	if len(kr.Rules) == 0 {
		problems = append(problems, "no rules")
	}
	seen := make(map[string]bool)
	for i := range kr.Rules {
		r := &kr.Rules[i]
		where := fmt.Sprintf("rule %d", i+1)
		if r.Name != "" {
			where += " (" + r.Name + ")"
		}
		if r.Name == "" {
			problems = append(problems, where+": name is empty")
		} else if seen[r.Name] {
			problems = append(problems, where+": name is used twice")
		}
		seen[r.Name] = true
		if r.Severity == 0 {
			r.Severity = SeverityError
		}
		if r.Cause == "" {
			problems = append(problems, where+": cause is empty")
		}
		if r.Suggestion == "" {
			problems = append(problems, where+": suggestion is empty")
		}
		if len(r.Keywords) == 0 {
			problems = append(problems, where+": no keywords")
		}
		for _, k := range r.Keywords {
			if strings.TrimSpace(k) == "" {
				problems = append(problems, where+": empty keyword")
				continue
			}
			r.lower = append(r.lower, strings.ToLower(k))
		}
		for _, expr := range r.RawMessage {
			re, err := regexp.Compile(expr)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: raw_message %q: %v", where, expr, err))
				continue
			}
			if re.NumSubexp() < 1 {
				problems = append(problems, fmt.Sprintf("%s: raw_message %q has no capture group", where, expr))
				continue
			}
			r.raw = append(r.raw, re)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("diag: rule file: %s", strings.Join(problems, "; "))
	}
	return &kr, nil
}

// matches reports whether any keyword occurs in text (lower-cased).
func (r *KeywordRule) matches(lowerText string) bool {
	for _, k := range r.lower {
		if strings.Contains(lowerText, k) {
			return true
		}
	}
	return false
}

// RawRecord extracts the raw record from text with the rule's raw_message
// expressions, and false if none matches.
func (r *KeywordRule) RawRecord(text string) (string, bool) {
	for _, re := range r.raw {
		if m := re.FindStringSubmatch(text); m != nil && m[1] != "" {
			return m[1], true
		}
	}
	return "", false
}

// Classification is the result of classifying a failure.
type Classification struct {
	// Rule is the matching rule, nil if none matched.
	Rule *KeywordRule
	// Root is the innermost cause of the stack trace (zero if unparsed).
	Root Cause
	// Matched is the cause the rule matched, or the root.
	Matched Cause
	// Raw is the extracted raw record, if the rule extracts one.
	Raw string
}

// Classify parses an exception's stack trace and finds the first rule that
// matches its innermost cause, then the outer causes, then the whole text.
func (kr *KeywordRules) Classify(stacktrace string) Classification {
	st := ParseStackTrace(stacktrace)
	var c Classification
	c.Root, _ = st.Root()
	c.Matched = c.Root
	try := func(text string) bool {
		lt := strings.ToLower(text)
		for i := range kr.Rules {
			if kr.Rules[i].matches(lt) {
				c.Rule = &kr.Rules[i]
				return true
			}
		}
		return false
	}
	found := false
	for i := len(st.Causes) - 1; i >= 0 && !found; i-- {
		if try(st.Causes[i].Class + ": " + st.Causes[i].Message) {
			c.Matched = st.Causes[i]
			found = true
		}
	}
	if !found {
		found = try(stacktrace)
	}
	if found {
		c.Raw, _ = c.Rule.RawRecord(stacktrace)
	}
	return c
}
