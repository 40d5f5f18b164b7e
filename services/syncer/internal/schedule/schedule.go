// Package schedule cuts time into the slots of a schedule, an interval
// ("24h") or a cron expression ("0 3 * * *", in UTC). Every replica of
// syncer serve computes the same slots from the clock alone, so each
// publishes a slot's job under the same message id and the stream keeps
// one (events.SlotMsgID).
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is an interval or a cron schedule; the zero Schedule is off.
type Schedule struct {
	spec  string
	every time.Duration
	cron  cron.Schedule
}

// Parse reads an interval (a Go duration such as 5m or 24h, its slots
// counted from the Unix epoch), a cron expression of five fields or a
// descriptor such as @daily (robfig/cron's standard syntax, in UTC), or
// "0" or "" for off.
func Parse(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Schedule{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return Schedule{}, fmt.Errorf("schedule %q: an interval must be positive", s)
		}
		return Schedule{spec: s, every: d}, nil
	}
	c, err := cron.ParseStandard("CRON_TZ=UTC " + s)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q is neither an interval (24h) nor a cron expression (0 3 * * *): %w", s, err)
	}
	return Schedule{spec: s, cron: c}, nil
}

// Off reports whether the schedule never runs.
func (s Schedule) Off() bool { return s.every == 0 && s.cron == nil }

// Next is the start of the first slot after t.
func (s Schedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		return t.Truncate(s.every).Add(s.every)
	}
	return s.cron.Next(t)
}

// Slot is the start of the slot holding t: the latest start at or before
// it.
func (s Schedule) Slot(t time.Time) time.Time {
	if s.every > 0 {
		return t.Truncate(s.every)
	}
	// cron has no "previous": look back twice the gap ahead, and further
	// while that holds no start.
	gap := s.Next(s.Next(t)).Sub(s.Next(t))
	for back := 2 * gap; ; back *= 2 {
		var last time.Time
		for n := s.Next(t.Add(-back)); !n.After(t); n = s.Next(n) {
			last = n
		}
		if !last.IsZero() {
			return last
		}
	}
}

// Longest is the longest slot of the schedule, a bound on how long the
// stream must remember a slot's message id: an interval's length, or the
// longest gap between the next 64 starts of a cron schedule (a month for a
// monthly one).
func (s Schedule) Longest(now time.Time) time.Duration {
	if s.every > 0 || s.Off() {
		return s.every
	}
	var longest time.Duration
	t := s.Next(now)
	for range 64 {
		n := s.Next(t)
		longest = max(longest, n.Sub(t))
		t = n
	}
	return longest
}

// String is the schedule as given, "0" when off.
func (s Schedule) String() string {
	if s.Off() {
		return "0"
	}
	return s.spec
}

// MarshalText and UnmarshalText make a Schedule a flag and an environment
// variable (envflag.Binder.TextVar).
func (s Schedule) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses text with Parse.
func (s *Schedule) UnmarshalText(text []byte) error {
	p, err := Parse(string(text))
	if err != nil {
		return err
	}
	*s = p
	return nil
}
