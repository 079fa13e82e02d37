package head

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Head restarts. The head keeps little on disk: the cluster token (so that
// nodes, drivers and the CLI can reconnect), the jobs, and the nodes it
// declared dead (so that one of them cannot come back under its old
// identity). Everything else is rebuilt by the members after a restart, as
// Ray rebuilds from owners: nodes register again under their identities
// and report the objects they hold; drivers declare the objects they own
// and submit again the tasks that had not finished. For a recovery window
// after a restart, object copies no owner has claimed yet are kept.

var (
	bucketMeta = []byte("meta")
	bucketJobs = []byte("jobs")
	bucketDead = []byte("dead_nodes")
	keyToken   = []byte("token")
)

// stateStore is the head's metadata on disk (bbolt).
type stateStore struct {
	db *bolt.DB
}

func openState(dir string) (*stateStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("head state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, "head.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening head state %s (is another head using it?): %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketJobs, bucketDead} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initializing head state %s: %w", path, err)
	}
	return &stateStore{db: db}, nil
}

func (s *stateStore) close() error { return s.db.Close() }

// Token returns the token kept in dir's state, or "" if there is none.
func (s *stateStore) token() (string, error) {
	var t string
	err := s.db.View(func(tx *bolt.Tx) error {
		t = string(tx.Bucket(bucketMeta).Get(keyToken))
		return nil
	})
	return t, err
}

func (s *stateStore) setToken(t string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyToken, []byte(t)) })
}

func (s *stateStore) putJob(info *pb.JobInfo) error {
	b, err := proto.Marshal(info)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketJobs).Put(info.JobId, b) })
}

func (s *stateStore) deleteJob(id ids.ID) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketJobs).Delete(id[:]) })
}

func (s *stateStore) jobs() ([]*pb.JobInfo, error) {
	var out []*pb.JobInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(_, v []byte) error {
			info := &pb.JobInfo{}
			if err := proto.Unmarshal(v, info); err != nil {
				return fmt.Errorf("a stored job is corrupt: %w", err)
			}
			out = append(out, info)
			return nil
		})
	})
	return out, err
}

func (s *stateStore) markDead(id ids.ID) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDead).Put(id[:], []byte(time.Now().UTC().Format(time.RFC3339)))
	})
}

func (s *stateStore) deadNodes() (map[ids.ID]bool, error) {
	out := map[ids.ID]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDead).ForEach(func(k, _ []byte) error {
			id, err := ids.FromBytes("dead node id", k)
			if err != nil {
				return fmt.Errorf("stored dead node %s: %w", hex.EncodeToString(k), err)
			}
			out[id] = true
			return nil
		})
	})
	return out, err
}

// recovering reports whether the head is in its recovery window.
func (h *Head) recovering() bool {
	return !h.recoverUntil.IsZero() && time.Now().Before(h.recoverUntil)
}

// endRecovery frees the object copies no owner claimed during the window.
func (h *Head) endRecovery() {
	if h.recoverUntil.IsZero() || h.recovering() {
		return
	}
	h.recoverUntil = time.Time{}
	freed := 0
	for id, nodes := range h.unclaimed {
		for _, n := range nodes {
			if n.alive {
				b := id.Bytes()
				n.out.Add(32, func(m *pb.HeadToNode) { m.FreeObjects = append(m.FreeObjects, b) })
				freed++
			}
		}
	}
	h.unclaimed = nil
	// Jobs whose driver did not come back have ended.
	ended := 0
	for _, j := range h.jobs {
		if j.drivers == 0 && j.root == nil { // (derived jobs end with their root)
			h.endJob(j)
			ended++
		}
	}
	h.log.Info("recovery window over", "unclaimed_copies_freed", freed, "jobs_ended", ended)
}

// claim adds the unclaimed copies of o reported by nodes during recovery.
func (h *Head) claim(o *object) {
	if nodes, ok := h.unclaimed[o.id]; ok {
		delete(h.unclaimed, o.id)
		for _, n := range nodes {
			h.addLocation(o, n)
		}
	}
}
