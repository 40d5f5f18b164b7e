package main

import (
	"io"
	"testing"
)

func TestRunSaysItIsNotBuiltYet(t *testing.T) {
	if err := run(t.Context(), nil, func(string) string { return "" }, io.Discard); err != errNotYet {
		t.Fatalf("run: %v, want %v", err, errNotYet)
	}
}
