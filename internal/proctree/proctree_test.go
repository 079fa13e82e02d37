package proctree

import (
	"os"
	"os/exec"
	"slices"
	"testing"
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
	if args := Args(pid); !slices.Equal(args, []string{"sleep", "30"}) {
		t.Fatalf("args of the child: %q", args)
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
