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

// Parse sets each flag of fs from its environment variable when that is set,
// then parses args. Every value that does not parse is reported, naming the
// variable or flag it came from.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		env := EnvName(f.Name)
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
