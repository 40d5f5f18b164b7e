package main

import (
	"os"
	"testing"
	"time"
)

func TestCPUTime(t *testing.T) {
	before, ppid, err := cpuTime(os.Getpid(), false)
	if err != nil {
		t.Fatal(err)
	}
	if ppid != os.Getppid() {
		t.Fatalf("parent %d, want %d", ppid, os.Getppid())
	}
	// Spin until the kernel has counted more CPU: stat's times are whole
	// ticks.
	deadline := time.Now().Add(10 * time.Second)
	for x := 0; ; x++ {
		after, _, err := cpuTime(os.Getpid(), true)
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no CPU counted in 10 s of spinning (%d)", x)
		}
	}
}
