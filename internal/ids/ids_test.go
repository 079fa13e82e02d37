package ids

import (
	"sync"
	"testing"
)

func TestGeneratorsNeverCollide(t *testing.T) {
	const gens, per = 8, 2000
	seen := make(map[ID]bool, gens*per)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range gens {
		g := NewGenerator()
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]ID, 0, per)
			for range per {
				local = append(local, g.Next())
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range local {
				if seen[id] {
					t.Errorf("duplicate id %s", id)
				}
				seen[id] = true
			}
		}()
	}
	wg.Wait()
	if len(seen) != gens*per {
		t.Fatalf("got %d distinct ids, want %d", len(seen), gens*per)
	}
}

func TestRoundTrips(t *testing.T) {
	id := NewGenerator().Next()
	tests := []struct {
		name string
		conv func(ID) (ID, error)
	}{
		{"bytes", func(id ID) (ID, error) { return FromBytes("id", id.Bytes()) }},
		{"string", func(id ID) (ID, error) { return Parse(id.String()) }},
	}
	for _, tt := range tests {
		got, err := tt.conv(id)
		if err != nil || got != id {
			t.Errorf("%s: got %v, %v; want %v", tt.name, got, err, id)
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := FromBytes("task id", []byte{1, 2, 3}); err == nil || err.Error() != "task id must be 16 bytes, got 3" {
		t.Errorf("FromBytes short: %v", err)
	}
	if _, err := Parse("zz"); err == nil {
		t.Error("Parse accepted a bad ID")
	}
}
