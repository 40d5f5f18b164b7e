// Package envflag binds flags to environment variables of the same name:
// flag "nats-url" reads NATS_URL. A flag is env-backed only when it is
// registered through a Binder; flags registered on the plain FlagSet (a
// command's own options) come from the command line only. A flag given on the
// command line wins over its variable.
package envflag

import (
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EnvName is the environment variable behind the flag named name.
func EnvName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Binder registers env-backed flags on a FlagSet and parses it.
type Binder struct {
	fs    *flag.FlagSet
	bound []string // flag names, in the order registered
	about string   // printed above the flags by -h
	args  bool     // arguments after the flags are the command's (AllowArgs)
}

// New returns a Binder that registers its flags on fs. Flags registered on fs
// directly stay command-line-only.
func New(fs *flag.FlagSet) *Binder { return &Binder{fs: fs} }

// FlagSet is the set the Binder registers on.
func (b *Binder) FlagSet() *flag.FlagSet { return b.fs }

// Describe sets what -h prints above the flags: a one-line description of
// the command, then its usage line ("usage: ingest [flags]").
func (b *Binder) Describe(about string) { b.about = about }

// AllowArgs lets Parse accept arguments after the flags, left in the
// FlagSet's Args, for commands that take operands ("rebuild customers").
// Without it such arguments are an error.
func (b *Binder) AllowArgs() { b.args = true }

// usage records name as env-backed and returns its usage text naming the
// variable, as -h prints it.
func (b *Binder) usage(name, usage string) string {
	b.bound = append(b.bound, name)
	return usage + " (env " + EnvName(name) + ")"
}

// StringVar defines an env-backed string flag; see flag.FlagSet.StringVar.
func (b *Binder) StringVar(p *string, name, value, usage string) {
	b.fs.StringVar(p, name, value, b.usage(name, usage))
}

// IntVar defines an env-backed int flag; see flag.FlagSet.IntVar.
func (b *Binder) IntVar(p *int, name string, value int, usage string) {
	b.fs.IntVar(p, name, value, b.usage(name, usage))
}

// Int64Var defines an env-backed int64 flag; see flag.FlagSet.Int64Var.
func (b *Binder) Int64Var(p *int64, name string, value int64, usage string) {
	b.fs.Int64Var(p, name, value, b.usage(name, usage))
}

// Float64Var defines an env-backed float64 flag; see flag.FlagSet.Float64Var.
func (b *Binder) Float64Var(p *float64, name string, value float64, usage string) {
	b.fs.Float64Var(p, name, value, b.usage(name, usage))
}

// BoolVar defines an env-backed bool flag; see flag.FlagSet.BoolVar. The
// variable takes what strconv.ParseBool does ("true", "0", …).
func (b *Binder) BoolVar(p *bool, name string, value bool, usage string) {
	b.fs.BoolVar(p, name, value, b.usage(name, usage))
}

// DurationVar defines an env-backed time.Duration flag; see
// flag.FlagSet.DurationVar.
func (b *Binder) DurationVar(p *time.Duration, name string, value time.Duration, usage string) {
	b.fs.DurationVar(p, name, value, b.usage(name, usage))
}

// TextVar defines an env-backed flag read by p's UnmarshalText, such as a
// slog.Level; see flag.FlagSet.TextVar.
func (b *Binder) TextVar(p encoding.TextUnmarshaler, name string, value encoding.TextMarshaler, usage string) {
	b.fs.TextVar(p, name, value, b.usage(name, usage))
}

// Func defines an env-backed flag that calls fn with each value; see
// flag.FlagSet.Func. fn is called once for the variable and again for the
// flag when both are given, so it should replace, not append.
func (b *Binder) Func(name, usage string, fn func(string) error) {
	b.fs.Func(name, b.usage(name, usage), fn)
}

// Var defines an env-backed flag of any flag.Value; see flag.FlagSet.Var.
func (b *Binder) Var(v flag.Value, name, usage string) {
	b.fs.Var(v, name, b.usage(name, usage))
}

// SecretVar defines an env-backed flag holding a Secret. Its default is
// empty, and -h never prints a value.
func (b *Binder) SecretVar(p *Secret, name, usage string) {
	b.fs.Var(&secretValue{p}, name, b.usage(name, usage))
}

// secretValue is a Secret as a flag.Value. Its String hides the value; the
// flag package also calls it on a zero secretValue, hence the nil check.
type secretValue struct{ p *Secret }

func (v *secretValue) Set(s string) error { *v.p = Secret(s); return nil }
func (v *secretValue) Get() any           { return *v.p }
func (v *secretValue) String() string {
	if v == nil || v.p == nil || *v.p == "" {
		return ""
	}
	return v.p.String()
}

// Parse parses args, then sets each env-backed flag that args did not give
// from its variable, when that is set (not empty). A variable whose flag is
// given is not read at all, so the flag wins even over a value that would
// not parse. A bad command-line value is reported alone (the flag package
// stops at the first); otherwise every variable that does not parse is
// reported, each naming its variable. A rejected value is never repeated in
// an error: it may be a secret.
//
// For -h (or --help), Parse prints the description (see Describe), then
// the flags and their variables, to the FlagSet's output (stderr unless set)
// and returns flag.ErrHelp: a command then exits 0.
func (b *Binder) Parse(args []string, getenv func(string) string) error {
	fs := b.fs
	out := fs.Output()
	fs.SetOutput(io.Discard) // the caller reports the error once; -h prints usage below
	err := fs.Parse(args)
	fs.SetOutput(out)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if b.about != "" {
				fmt.Fprintf(out, "%s\n\nflags:\n", b.about)
			}
			fs.PrintDefaults()
			return err
		}
		return hideParseValue(err)
	}
	if fs.NArg() > 0 && !b.args {
		// Not shown: a value given to a bool flag as "-flag value" lands here.
		return fmt.Errorf("unexpected arguments after the flags: %d", fs.NArg())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	for _, name := range b.bound {
		env := EnvName(name)
		v := getenv(env)
		if given[name] || v == "" {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: invalid value: %s", env, hide(err.Error(), v)))
		}
	}
	return errors.Join(errs...)
}

// parseValue matches the flag package's messages for a rejected value,
// "invalid value %q for flag -%s: %v" and "invalid boolean value %q for
// -%s: %v".
var parseValue = regexp.MustCompile(`(?s)^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-(\S+): (.*)$`)

// hideParseValue rewrites the flag package's error for a rejected value so
// that it no longer contains the value.
func hideParseValue(err error) error {
	m := parseValue.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	value, uerr := strconv.Unquote(m[1])
	reason := m[3]
	if uerr != nil {
		reason = "(reason hidden)"
	} else {
		reason = hide(reason, value)
	}
	return fmt.Errorf("invalid value for flag -%s: %s", m[2], reason)
}

// hide removes a rejected value from msg: Value.Set errors are free to quote
// their input (slog.Level does), and the input may be a secret.
func hide(msg, value string) string {
	if value == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, strconv.Quote(value), `"…"`)
	return strings.ReplaceAll(msg, value, "…")
}
