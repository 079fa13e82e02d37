// Package local is the default node provider: it launches `shoal node`
// processes on this machine and stops them by pid.
package local

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoal-dev/shoal/autoscaler"
)

// Provider starts nodes as local processes of the shoal binary.
type Provider struct {
	// Binary is the shoal command; HeadAddr and TokenFile say where the
	// nodes join; Cluster names the cluster in the nodes' labels.
	Binary    string
	HeadAddr  string
	TokenFile string
	Cluster   string
	// Output receives the nodes' output (nil: discarded).
	Output io.Writer

	mu    sync.Mutex
	seq   int
	procs map[string]*proc
}

type proc struct {
	inst       autoscaler.Instance
	cmd        *exec.Cmd
	exited     chan struct{}
	terminated bool
}

// Name is "local".
func (p *Provider) Name() string { return "local" }

// List returns the nodes this provider started that have not been
// terminated; one that stopped on its own is reported failed.
func (p *Provider) List(context.Context) ([]autoscaler.Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]autoscaler.Instance, 0, len(p.procs))
	for _, id := range slices.Sorted(maps.Keys(p.procs)) {
		out = append(out, p.procs[id].inst)
	}
	return out, nil
}

// Launch starts count node processes of type t.
func (p *Provider) Launch(ctx context.Context, t autoscaler.NodeType, count int) ([]autoscaler.Instance, error) {
	var out []autoscaler.Instance
	for range count {
		p.mu.Lock()
		p.seq++
		id := fmt.Sprintf("local-%s-%d-%d", t.Name, os.Getpid(), p.seq)
		p.mu.Unlock()
		args := []string{"node", "--head", p.HeadAddr, "--token-file", p.TokenFile}
		args = append(args, resourceFlags(t.Resources)...)
		labels := map[string]string{autoscaler.LabelInstance: id, autoscaler.LabelNodeType: t.Name, autoscaler.LabelCluster: p.Cluster}
		for k, v := range t.Labels {
			labels[k] = v
		}
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			kv = append(kv, k+"="+labels[k])
		}
		args = append(args, "--labels", strings.Join(kv, ","))
		cmd := exec.Command(p.Binary, args...)
		cmd.Stdout, cmd.Stderr = p.Output, p.Output
		// The nodes end with the process that launched them.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return out, fmt.Errorf("starting %s node %s: %w", t.Name, id, err)
		}
		pr := &proc{inst: autoscaler.Instance{ID: id, Type: t.Name, State: autoscaler.InstanceRunning, LaunchedAt: time.Now()}, cmd: cmd, exited: make(chan struct{})}
		p.mu.Lock()
		if p.procs == nil {
			p.procs = map[string]*proc{}
		}
		p.procs[id] = pr
		p.mu.Unlock()
		go func() {
			err := cmd.Wait()
			p.mu.Lock()
			if pr.terminated {
				delete(p.procs, id)
			} else {
				pr.inst.State = autoscaler.InstanceFailed
				pr.inst.Reason = fmt.Sprintf("the node process exited on its own (%v)", err)
			}
			p.mu.Unlock()
			close(pr.exited)
		}()
		out = append(out, pr.inst)
	}
	return out, nil
}

func resourceFlags(r autoscaler.Resources) []string {
	var flags, custom []string
	keys := slices.Sorted(maps.Keys(r))
	sort.Strings(keys)
	for _, k := range keys {
		v := r[k]
		switch k {
		case "CPU":
			flags = append(flags, "--cpus", fmt.Sprint(v))
		case "GPU":
			flags = append(flags, "--gpus", fmt.Sprint(v))
		case "memory":
			flags = append(flags, "--memory", fmt.Sprint(int64(v)))
		default:
			custom = append(custom, fmt.Sprintf("%s=%g", k, v))
		}
	}
	if len(custom) > 0 {
		flags = append(flags, "--resources", strings.Join(custom, ","))
	}
	return flags
}

// Terminate stops instances: SIGTERM, then SIGKILL after 5 s. Instances
// already gone are skipped.
func (p *Provider) Terminate(_ context.Context, ids []string) error {
	var wait []*proc
	p.mu.Lock()
	for _, id := range ids {
		pr := p.procs[id]
		if pr == nil {
			continue
		}
		select {
		case <-pr.exited:
			delete(p.procs, id) // it had failed; forget it
			continue
		default:
		}
		pr.terminated = true
		pr.inst.State = autoscaler.InstanceTerminating
		pr.cmd.Process.Signal(syscall.SIGTERM)
		wait = append(wait, pr)
	}
	p.mu.Unlock()
	for _, pr := range wait {
		go func() {
			select {
			case <-pr.exited:
			case <-time.After(5 * time.Second):
				pr.cmd.Process.Kill()
			}
		}()
	}
	return nil
}

// Close stops every node this provider started and waits for them.
func (p *Provider) Close() {
	p.mu.Lock()
	var all []string
	var procs []*proc
	for id, pr := range p.procs {
		all = append(all, id)
		procs = append(procs, pr)
	}
	p.mu.Unlock()
	p.Terminate(context.Background(), all)
	for _, pr := range procs {
		<-pr.exited
	}
}
