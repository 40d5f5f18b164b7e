package envflag

import (
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// Secret is a setting that must never reach a log or an error message: it
// prints as REDACTED. string(s) is the value.
type Secret string

// LogValue keeps the value out of slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// String keeps the value out of fmt output.
func (Secret) String() string { return "REDACTED" }

// GoString keeps the value out of %#v, which ignores String.
func (Secret) GoString() string { return `envflag.Secret("REDACTED")` }

// masked replaces a password; it is what url.URL.Redacted writes.
const masked = "xxxxx"

// Redact hides the passwords in a connection string, for logging
// configuration. It reads both forms PostgreSQL accepts, and NATS URLs:
//
//   - a URL, or a comma-separated list of them (NATS): the password of the
//     user info is masked, as is the user of a nats, tls, ws or wss URL
//     without a password (NATS takes that as a token), and every query
//     parameter whose name holds "pass", "token" or "secret"
//     (?password=…, ?sslpassword=…);
//   - keyword/value pairs (host=127.0.0.1 user=app password='a b'), with
//     libpq's rules for spaces around '=', quoting and backslash escapes: the
//     value of every keyword that holds "pass", "token" or "secret" is
//     masked. The pairs come back normalized (key=value).
//
// Whatever it cannot parse as one of those comes back as "REDACTED" whole.
func Redact(conn string) string {
	s := strings.TrimSpace(conn)
	if s == "" {
		return ""
	}
	var out string
	var ok bool
	if urlScheme.MatchString(s) {
		out, ok = redactURLs(s)
	} else {
		out, ok = redactKeywords(s)
	}
	if !ok {
		return "REDACTED"
	}
	return out
}

var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// tokenSchemes are NATS's: there a user without a password is a token.
var tokenSchemes = map[string]bool{"nats": true, "tls": true, "ws": true, "wss": true}

func sensitive(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "pass") || strings.Contains(k, "token") || strings.Contains(k, "secret")
}

// redactURLs splits a list only when it holds several schemes: a
// PostgreSQL URL may list hosts with commas (postgres://h1,h2/db).
func redactURLs(s string) (string, bool) {
	if strings.Count(s, "://") == 1 {
		return redactURL(s)
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		r, ok := redactURL(strings.TrimSpace(p))
		if !ok {
			return "", false
		}
		parts[i] = r
	}
	return strings.Join(parts, ","), true
}

func redactURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || !urlScheme.MatchString(raw) {
		return "", false
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), masked)
		} else if tokenSchemes[strings.ToLower(u.Scheme)] {
			u.User = url.User(masked)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return "", false
		}
		for k := range q {
			if sensitive(k) {
				q[k] = []string{masked}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String(), true
}

var keyword = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// redactKeywords parses libpq's keyword/value form: pairs separated by
// spaces, optional spaces around '=', values in single quotes when they hold
// spaces, and a backslash escaping the next character, quoted or not.
func redactKeywords(s string) (string, bool) {
	var pairs []string
	i := 0
	skipSpace := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	for {
		skipSpace()
		if i == len(s) {
			break
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		skipSpace()
		if !keyword.MatchString(key) || i == len(s) || s[i] != '=' {
			return "", false
		}
		i++
		skipSpace()
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				i++
				if c == '\\' && i < len(s) {
					val.WriteByte(s[i])
					i++
					continue
				}
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return "", false
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				c := s[i]
				i++
				if c == '\\' && i < len(s) {
					c = s[i]
					i++
				}
				val.WriteByte(c)
			}
		}
		v := val.String()
		if sensitive(key) {
			v = masked
		}
		pairs = append(pairs, key+"="+quoteKeywordValue(v))
	}
	if len(pairs) == 0 {
		return "", false
	}
	return strings.Join(pairs, " "), true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func quoteKeywordValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\f\v'\\") {
		return v
	}
	v = strings.ReplaceAll(v, `\`, `\\`)
	return "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
}
