package ids

import (
	"errors"
	"slices"
	"strings"
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

func TestAbbrevIsAPrefix(t *testing.T) {
	id := Random()
	if a := id.Abbrev(); len(a) != AbbrevLen || a != id.String()[:AbbrevLen] {
		t.Fatalf("Abbrev %q is not the first %d digits of %s", a, AbbrevLen, id)
	}
}

func TestResolve(t *testing.T) {
	a, _ := Parse("3f2a9c1b0d4e11110000000000000001")
	b, _ := Parse("3f2a9c1b0d4e22220000000000000002")
	c, _ := Parse("7c01000000000000000000000000beef")
	known := []ID{a, b, c}
	for _, tc := range []struct {
		in      string
		want    ID
		wantErr error
		says    []string
	}{
		{in: a.String(), want: a},
		{in: "7", want: c},
		{in: "7C01", want: c},
		{in: "3f2a9c1b0d4e1", want: a},
		{in: b.Abbrev() + "2", want: b},
		{in: "3f2a", wantErr: ErrAmbiguous, says: []string{`"3f2a" names 2 nodes`, "\n  3f2a9c1b0d4e1\n  3f2a9c1b0d4e2"}},
		{in: "9", wantErr: ErrNoMatch, says: []string{`no node has an ID starting with "9"`}},
		{in: "", says: []string{"no node ID given"}},
		{in: "9" + a.String()[1:], want: mustParse("9" + a.String()[1:])}, // a whole ID is taken as it is
		{in: "3f2a-1", says: []string{`"3f2a-1" is not a node ID or a prefix of one`}},
		{in: a.String() + "0", says: []string{"is not a node ID"}},
	} {
		got, err := Resolve("node", tc.in, slices.Values(known), nil)
		if tc.says == nil {
			if err != nil || got != tc.want {
				t.Errorf("Resolve(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Errorf("Resolve(%q) = %s, %v; want an error wrapping %v", tc.in, got, err, tc.wantErr)
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Resolve(%q): error %q does not say %q", tc.in, err, s)
			}
		}
	}
	_, err := Resolve("job", "3f", slices.Values(known), func(id ID) string { return "running" })
	if err == nil || !strings.Contains(err.Error(), "3f2a9c1b0d4e2  running") {
		t.Errorf("the candidates are not described: %v", err)
	}
}

func mustParse(s string) ID {
	id, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return id
}
