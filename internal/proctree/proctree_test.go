package proctree

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestChildArgsAndRSS(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	if kids := Children(os.Getpid()); !slices.Contains(kids, pid) {
		t.Fatalf("children of %d are %v, missing %d", os.Getpid(), kids, pid)
	}
	// (Start returns once the child's exec closed its descriptors, which
	// the kernel does before it lays out the new program's arguments: for
	// a moment, /proc shows none.)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		args := Args(pid)
		if slices.Equal(args, []string{"sleep", "30"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("args of the child: %q", args)
		}
	}
	self, err := RSS(os.Getpid())
	if err != nil || self <= 0 {
		t.Fatalf("RSS of this process: %d, %v", self, err)
	}
	tree, err := TreeRSS(os.Getpid())
	if err != nil || tree <= self {
		t.Fatalf("tree RSS %d is not above this process's %d (%v)", tree, self, err)
	}
	if _, err := RSS(-5); err == nil {
		t.Fatal("RSS of a process that cannot exist: no error")
	}
}
