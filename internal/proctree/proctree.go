// Package proctree reads Linux's process table (/proc): the children of a
// process, their command lines and resident memory. Benchmarks use it to
// measure a cluster's processes, and examples to find a node to kill.
package proctree

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Children returns the pids of the processes whose parent is pid.
func Children(pid int) []int {
	if c, ok := childrenOf(pid); ok {
		return c
	}
	return childrenByParent()[pid]
}

// childrenOf reads pid's children from /proc/pid/task/*/children (a few
// small files, where the whole process table is hundreds: a benchmark's
// memory sampler spent 2% of the machine reading that); ok is false where
// the kernel has no such files or pid has gone.
func childrenOf(pid int) ([]int, bool) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return nil, false
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			if os.IsNotExist(err) && t.Name() == strconv.Itoa(pid) {
				return nil, false // (no children files here)
			}
			continue // (a thread that ended meanwhile)
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out, true
}

// Descendants returns the pids of every live process descending from root,
// parents before their children.
func Descendants(root int) []int {
	children := func(pid int) []int { cs, _ := childrenOf(pid); return cs }
	if _, ok := childrenOf(root); !ok {
		byParent := childrenByParent()
		children = func(pid int) []int { return byParent[pid] }
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		cs := children(queue[0])
		queue = append(queue[1:], cs...)
		out = append(out, cs...)
	}
	return out
}

// Running reports whether process pid exists and has not exited (a zombie
// waiting for its parent to reap it has exited).
func Running(pid int) bool {
	_, state, ok := stat(pid)
	return ok && state != "Z" && state != "X"
}

// childrenByParent reads the process table: parent pid -> children.
func childrenByParent() map[int][]int {
	out := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err != nil {
			continue
		}
		if ppid, _, ok := stat(pid); ok {
			out[ppid] = append(out[ppid], pid)
		}
	}
	return out
}

// stat reads a process's parent and state from /proc/pid/stat; ok is false
// when the process has gone.
func stat(pid int) (ppid int, state string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	// pid (comm) state ppid ...: comm may hold spaces, so cut at ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", false
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(fields[1])
	return ppid, fields[0], err == nil
}

// Args returns the command line of process pid (nil if it has gone).
func Args(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// RSS returns the resident memory of process pid, in bytes.
func RSS(pid int) (int64, error) { return memoryLine(pid, "status", "VmRSS:") }

// PSS returns the proportional resident memory of process pid, in bytes:
// its private pages plus its share of the pages it maps with other
// processes, so that a sum over processes that share memory (a node and
// its executors map one object store) counts each page once.
func PSS(pid int) (int64, error) { return memoryLine(pid, "smaps_rollup", "Pss:") }

func memoryLine(pid int, file, prefix string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0, fmt.Errorf("reading memory of process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("reading memory of process %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("reading memory of process %d: no %s line in %s", pid, prefix, file)
}

// TreeRSS sums the resident memory of process root and its children.
func TreeRSS(root int) (int64, error) { return sum(root, RSS, Children(root)) }

// TreePSS sums the proportional resident memory (PSS) of process root and
// all its descendants.
func TreePSS(root int) (int64, error) { return sum(root, PSS, Descendants(root)) }

func sum(root int, mem func(int) (int64, error), others []int) (int64, error) {
	total, err := mem(root)
	if err != nil {
		return 0, err
	}
	for _, pid := range others {
		if m, err := mem(pid); err == nil {
			total += m
		}
	}
	return total, nil
}
