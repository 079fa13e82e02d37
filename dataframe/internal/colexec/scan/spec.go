package scan

import (
	"fmt"
	"strings"

	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Spec describes a file source as data, so that another process (a
// partition task on a cluster node) opens it again: its kind, path and
// options, and the identity the planner saw. A process that finds other
// bytes there (the file changed since the query was planned) refuses to
// read them rather than mix two versions of the input in one answer.
type Spec struct {
	Kind     string       `json:"kind"` // "parquet" or "csv"
	Path     string       `json:"path"`
	Schema   types.Schema `json:"schema,omitempty"` // csv
	CSV      *CSVOptions  `json:"csv,omitempty"`
	Identity string       `json:"identity"`
}

// Specced is a source that can be described as a Spec.
type Specced interface {
	Source
	Spec() Spec
}

// Spec implements Specced.
func (p *Parquet) Spec() Spec { return Spec{Kind: "parquet", Path: p.path, Identity: p.ident} }

// Spec implements Specced.
func (c *CSV) Spec() Spec {
	o := c.opts
	return Spec{Kind: "csv", Path: c.path, Schema: c.schema, CSV: &o, Identity: c.ident}
}

// FromSpec opens the source s describes, checking that it is the data the
// planner saw.
func FromSpec(s Spec) (Source, error) {
	var src Source
	var err error
	switch s.Kind {
	case "parquet":
		src, err = NewParquet(s.Path)
	case "csv":
		var o CSVOptions
		if s.CSV != nil {
			o = *s.CSV
		}
		src, err = NewCSV(s.Path, s.Schema, o)
	default:
		return nil, fmt.Errorf("unknown source kind %q", s.Kind)
	}
	if err != nil {
		return nil, err
	}
	if id := src.Identity(); id != s.Identity && vouched(id) && vouched(s.Identity) {
		return nil, fmt.Errorf("%s %s changed since the query was planned (or differs on this node): its identity is %.80s…, the planner saw %.80s…",
			s.Kind, s.Path, id, s.Identity)
	}
	return src, nil
}

// vouched reports whether an identity names content (not a file changed
// just now or one that cannot be hashed, whose identities are unique each
// time: fileid.go), so that two of them can be compared.
func vouched(id string) bool {
	return !strings.Contains(id, ":changed-just-now:") && !strings.Contains(id, ":unhashable:")
}
