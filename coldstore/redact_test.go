package coldstore_test

import (
	"strings"
	"testing"

	"github.com/hotcold/hotcold/coldstore"
)

func TestRedactHidesThePasswordOfAStoreURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3cret@127.0.0.1:6379":          "redis://:***@127.0.0.1:6379",
		"redis://alice:s3cret@h:1,h:2/0?prefix=p": "redis://alice:***@h:1,h:2/0?prefix=p",
		"rediss://alice:p@ss:w@rd@h:6379":         "rediss://alice:***@h:6379",
		"redis://alice@h:6379":                    "redis://alice@h:6379",
		"redis://h:6379":                          "redis://h:6379",
		"pebble:/var/lib/cold":                    "pebble:/var/lib/cold",
		"redis://:s3cret@":                        "redis://:***@",
		"redis://:s3cret@h:notaport?bogus=1":      "redis://:***@h:notaport?bogus=1",
	} {
		if got := coldstore.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseLocationErrorsDoNotShowThePassword(t *testing.T) {
	for _, in := range []string{"redis://:s3cret@h:notaport", "redis://:s3cret@h:1?bogus=1", "redis://:s3cret@h:1/x"} {
		_, err := coldstore.ParseLocation(in)
		if err == nil {
			t.Fatalf("ParseLocation(%q): no error", in)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseLocation(%q) error shows the password: %v", in, err)
		}
	}
}
