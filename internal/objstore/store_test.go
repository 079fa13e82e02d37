package objstore

import (
	"errors"
	"testing"

	"github.com/shoal-dev/shoal/internal/ids"
)

func TestStore(t *testing.T) {
	g := ids.NewGenerator()
	s := New(10)
	a, b := g.Next(), g.Next()
	steps := []struct {
		name    string
		do      func() error
		objects int
		bytes   int64
	}{
		{"put a", func() error { _, err := s.Put(a, []byte("12345")); return err }, 1, 5},
		{"put a again keeps first", func() error {
			added, err := s.Put(a, []byte("xx"))
			if added {
				return errors.New("second put of a reported added")
			}
			return err
		}, 1, 5},
		{"put b over limit", func() error {
			_, err := s.Put(b, []byte("123456"))
			if !errors.Is(err, ErrFull) {
				return errors.New("want ErrFull")
			}
			return nil
		}, 1, 5},
		{"delete a", func() error {
			if !s.Delete(a) {
				return errors.New("delete a: not found")
			}
			return nil
		}, 0, 0},
		{"put b fits now", func() error { _, err := s.Put(b, []byte("123456")); return err }, 1, 6},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if n, by := s.Stats(); n != st.objects || by != st.bytes {
			t.Fatalf("%s: stats %d objects %d bytes, want %d %d", st.name, n, by, st.objects, st.bytes)
		}
	}
	if got, ok := s.Get(b); !ok || string(got) != "123456" {
		t.Fatalf("get b = %q %v", got, ok)
	}
}
