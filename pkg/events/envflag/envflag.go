// Package envflag lets every flag of a service default to an environment
// variable of the same name: flag "nats-url" reads NATS_URL. A flag given on
// the command line overrides the variable.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

var quotedValue = regexp.MustCompile(`^invalid value ".*" for flag`)

// EnvName is the environment variable behind the flag named name.
func EnvName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// envInUsage finds the variable a flag's usage names: "… (env NATS_URL)".
var envInUsage = regexp.MustCompile(`\(env ([A-Z][A-Z0-9_]*)`)

// Parse sets each flag of fs that names an environment variable in its usage
// ("(env NATS_URL)", which must be EnvName of the flag) from that variable
// when it is set, then parses args. Flags that name none (a command's own
// options) come from args only. Every value that does not parse is
// reported, naming the variable or flag it came from.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		m := envInUsage.FindStringSubmatch(f.Usage)
		if m == nil {
			return
		}
		env := m[1]
		if env != EnvName(f.Name) {
			errs = append(errs, fmt.Errorf("flag -%s documents env %s, want %s", f.Name, env, EnvName(f.Name)))
			return
		}
		if v := getenv(env); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fs.SetOutput(io.Discard) // run reports the error once; -h prints usage below
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(nil)
			fs.PrintDefaults()
			return err
		}
		// The flag package quotes the rejected value, which may be a secret.
		return errors.New(quotedValue.ReplaceAllString(err.Error(), "invalid value for flag"))
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}

// RedactURL hides the password of a URL, for logging configuration.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Secret is a setting that must never reach a log or an error message: it
// prints as REDACTED. string(s) is the value.
type Secret string

// LogValue keeps the value out of slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// String keeps the value out of fmt output.
func (Secret) String() string { return "REDACTED" }
