package node

import (
	"os/exec"
	"syscall"
	"time"
)

// childProc is a process the node started (an executor or a job's driver):
// exited closes when it has been waited for.
type childProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// stopChild sends c SIGTERM and, in the background, SIGKILL if it has not
// exited after grace.
func (n *Node) stopChild(c *childProc, grace time.Duration) {
	c.cmd.Process.Signal(syscall.SIGTERM)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		select {
		case <-c.exited:
		case <-time.After(grace):
			c.cmd.Process.Kill()
		}
	}()
}

// stopChildren sends every child SIGTERM, gives them grace together, kills
// those still running and waits until all have exited.
func stopChildren(cs []*childProc, grace time.Duration) {
	for _, c := range cs {
		c.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(grace)
	for _, c := range cs {
		select {
		case <-c.exited:
		case <-deadline:
			c.cmd.Process.Kill()
			<-c.exited
		}
	}
}
