package chaos

import (
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/proctree"
)

// rssSampler records the peak resident memory of a process.
type rssSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	peak  int64
}

// sampleRSS reads the VmRSS of pid every interval until stop.
func sampleRSS(pid int, interval time.Duration) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if b, err := proctree.RSS(pid); err == nil {
				s.mu.Lock()
				s.peak = max(s.peak, b)
				s.mu.Unlock()
			}
			select {
			case <-t.C:
			case <-s.stopc:
				return
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the peak in bytes.
func (s *rssSampler) stop() int64 {
	select {
	case <-s.stopc:
	default:
		close(s.stopc)
	}
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}
