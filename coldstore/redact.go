package coldstore

import "strings"

// Redact returns a store URL (or any SCHEME://[USERINFO@]HOST... string)
// fit to print or log: a password in the userinfo becomes "***", the user
// name stays. A string without userinfo is returned unchanged; a string
// that does not parse is redacted the same way, so an invalid URL in an
// error message does not leak the secret it carries either. Every message
// and log line of hotcold that shows a store URL goes through it.
func Redact(rawURL string) string {
	i := strings.Index(rawURL, "://")
	if i < 0 {
		return rawURL
	}
	start := i + 3
	// The authority ends at the first '/', '?' or '#'; a password may
	// itself hold none of them unescaped, but may hold '@' and ':'.
	end := len(rawURL)
	if j := strings.IndexAny(rawURL[start:], "/?#"); j >= 0 {
		end = start + j
	}
	at := strings.LastIndexByte(rawURL[start:end], '@')
	if at < 0 {
		return rawURL
	}
	ui := rawURL[start : start+at]
	user, _, hasPass := strings.Cut(ui, ":")
	if !hasPass {
		return rawURL
	}
	return rawURL[:start] + user + ":***" + rawURL[start+at:]
}
