package node

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rotlog"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Each job's executors write their output, line by line, to a log file of
// the job's own under the node's log directory, rotated by size, so that
// `shoal logs` reads it back through the head. A job keeps at most
// execLogBytes × (1 + execLogBackups) of it on disk.
const (
	execLogBytes   = 32 << 20
	execLogBackups = 2
	// maxLogTail bounds what one request reads back from a node (the
	// reply travels on the node's stream to the head).
	maxLogTail = 8 << 20
)

// execLogs holds the open log files of the jobs whose executors run here,
// each open while one of them runs.
type execLogs struct {
	dir  string
	mu   sync.Mutex
	jobs map[ids.ID]*execLog
}

type execLog struct {
	f     *rotlog.File
	users int
	// mu is held by each write and by reads that need the end to match
	// what is on disk; end counts the output written, from what was on
	// disk when the log was opened (so it never goes back when rotation
	// removes old output).
	mu  sync.Mutex
	end int64
}

// Write implements io.Writer (the executors' output).
func (w *execLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.f.Write(p)
	w.end += int64(n)
	return n, err
}

func (l *execLogs) name(job ids.ID) string {
	return filepath.Join(l.dir, "executor-"+job.String()+".log")
}

// open returns the log of job's executors (every executor process of the
// job on this node shares it; its writes are whole lines) and the function
// that lets it go: the file closes when the last user lets go.
func (l *execLogs) open(job ids.ID) (io.Writer, func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.jobs[job]
	if w == nil {
		f, err := rotlog.Open(l.name(job), execLogBytes, execLogBackups)
		if err != nil {
			return nil, nil, fmt.Errorf("the log of job %s: %w", job.Abbrev(), err)
		}
		if l.jobs == nil {
			l.jobs = map[ids.ID]*execLog{}
		}
		w = &execLog{f: f, end: l.onDisk(job)}
		l.jobs[job] = w
	}
	w.users++
	var once sync.Once
	return w, func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if w.users--; w.users == 0 {
				w.f.Close()
				if l.jobs[job] == w {
					delete(l.jobs, job)
				}
			}
		})
	}, nil
}

func (l *execLogs) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.jobs {
		w.f.Close()
	}
	l.jobs = nil
}

// files lists job's log files, oldest first: rotated files are named with
// a timestamp after the base name (newest last when sorted); the live
// file is the newest of all.
func (l *execLogs) files(job ids.ID) []string {
	return append(rotlog.Backups(l.name(job)), l.name(job))
}

// onDisk counts the bytes of job's output on disk.
func (l *execLogs) onDisk(job ids.ID) int64 {
	var n int64
	for _, name := range l.files(job) {
		if st, err := os.Stat(name); err == nil {
			n += st.Size()
		}
	}
	return n
}

// read returns the last n bytes of job's output here (from < 0), or up to
// n bytes of what was written after position from (the oldest first, as
// a follower reads), with how many bytes before them it does not return
// (on disk before the tail; when following, written after from but no
// longer kept, or past n), and the position where the output ends.
func (l *execLogs) read(job ids.ID, from, n int64) (data []byte, skipped, end int64, err error) {
	n = min(max(n, 0), maxLogTail)
	l.mu.Lock()
	w := l.jobs[job]
	l.mu.Unlock()
	if w != nil {
		w.mu.Lock() // (writes wait: the end matches what is on disk)
		defer w.mu.Unlock()
		end = w.end
	} else {
		end = l.onDisk(job)
	}
	if from < 0 {
		data, skipped, err = l.tail(job, n)
		return data, skipped, end, err
	}
	// A position past the end (the node's log began again): from the end.
	from = min(from, end)
	want := end - from
	data, _, err = l.tail(job, min(want, n))
	if err != nil {
		return nil, 0, end, nil // (no output here yet)
	}
	// Past n, the oldest part of what is new is skipped, as a tail would
	// (a follower asks again within a second; n is 64 KiB by default).
	return data, want - int64(len(data)), end, nil
}

// tail returns the last n bytes of job's executor output here, across its
// rotated files, and how many bytes of output on disk came before them.
func (l *execLogs) tail(job ids.ID, n int64) ([]byte, int64, error) {
	n = min(max(n, 0), maxLogTail)
	files := l.files(job)
	var parts [][]byte
	var skipped int64
	for i := len(files) - 1; i >= 0; i-- {
		f, err := os.Open(files[i])
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		size, take := st.Size(), min(st.Size(), n)
		if take > 0 {
			b := make([]byte, take)
			_, err = f.ReadAt(b, size-take)
			if err != nil && err != io.EOF {
				f.Close()
				return nil, 0, err
			}
			parts = append(parts, b)
			n -= take
		}
		skipped += size - take
		f.Close()
	}
	if len(parts) == 0 {
		return nil, 0, fmt.Errorf("no executor of job %s ran on this node (no output kept)", job.Abbrev())
	}
	slices.Reverse(parts)
	return slices.Concat(parts...), skipped, nil
}

// answerLogs reads what the head asked for, off the node's message loop.
// The parts of a job's derived jobs follow its own, each under a line that
// names it.
func (n *Node) answerLogs(reqs []*pb.LogRequest) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for _, r := range reqs {
			reply := &pb.LogReply{Id: r.Id, Ends: make([]int64, len(r.JobIds))}
			var problems []string
			for i, b := range r.JobIds {
				job, err := ids.FromBytes("job id", b)
				if err != nil {
					problems = append(problems, err.Error())
					continue
				}
				from := int64(-1)
				if r.Follow {
					from = 0
					if i < len(r.From) {
						from = r.From[i]
					}
				}
				data, skipped, end, err := n.logs.read(job, from, r.TailBytes)
				reply.Ends[i] = end
				if err != nil {
					if i == 0 {
						problems = append(problems, err.Error())
					}
					continue
				}
				if len(data) == 0 && skipped == 0 {
					continue
				}
				if i > 0 {
					reply.Data = fmt.Appendf(reply.Data, "--- executors of derived job %s (an actor's own, or other environment variables) ---\n", job)
				}
				switch {
				case skipped > 0 && r.Follow:
					reply.Data = fmt.Appendf(reply.Data, "[… %d bytes not shown: written faster than followed, or rotated away]\n", skipped)
				case skipped > 0:
					reply.Data = fmt.Appendf(reply.Data, "[… %d earlier bytes; --tail prints more]\n", skipped)
				}
				reply.Data = append(reply.Data, data...)
				reply.Skipped += skipped
			}
			if len(reply.Data) == 0 && !r.Follow {
				reply.Error = strings.Join(problems, "; ")
			}
			n.report(func(m *pb.NodeMessage) { m.LogReplies = append(m.LogReplies, reply) })
		}
	}()
}

// readLines calls emit with each line of r (without its newline) until r
// ends. A line longer than maxLineBytes is cut there, with a marker saying
// how many bytes were cut: output is never dropped silently.
func readLines(r io.Reader, emit func(line string)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	cut := 0
	for {
		frag, isPrefix, err := br.ReadLine()
		if len(frag) > 0 {
			room := max(maxLineBytes-len(line), 0)
			take := min(room, len(frag))
			line = append(line, frag[:take]...)
			cut += len(frag) - take
		}
		if err != nil {
			if len(line) > 0 || cut > 0 {
				emit(cutLine(line, cut))
			}
			return
		}
		if !isPrefix {
			emit(cutLine(line, cut))
			line, cut = line[:0], 0
		}
	}
}

func cutLine(line []byte, cut int) string {
	if cut == 0 {
		return string(line)
	}
	return fmt.Sprintf("%s … [%d more bytes of this line cut]", line, cut)
}
