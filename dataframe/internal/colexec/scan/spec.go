package scan

import (
	"fmt"
	"regexp"
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
	if id := src.Identity(); id != s.Identity && vouched(id) && vouched(s.Identity) && portable(id) != portable(s.Identity) {
		return nil, fmt.Errorf("%s %s changed since the query was planned (or differs on this node): its identity is %.80s…, the planner saw %.80s…",
			s.Kind, s.Path, id, s.Identity)
	}
	return src, nil
}

// Node-specific parts of a file identity (fileid.go): where the file is
// (each node may unpack a job's files in a directory of its own) and the
// stat fields of a sampled file (another node's copy has its own inode,
// device and times); what is left names the content.
var (
	hashedFile  = regexp.MustCompile(`file:.*?:size=(\d+):sha256=([0-9a-f]+)`)
	sampledFile = regexp.MustCompile(`file:.*?:size=(\d+):mtime=-?\d+:ctime=-?\d+:ino=\d+:dev=\d+:sampled-sha256=([0-9a-f]+)`)
)

// portable is a source identity without what differs between two copies
// of the same bytes on two nodes, so that a node's copy is checked against
// what the planner saw by content.
func portable(id string) string {
	id = hashedFile.ReplaceAllString(id, "file:size=$1:sha256=$2")
	return sampledFile.ReplaceAllString(id, "file:size=$1:sampled-sha256=$2")
}

// vouched reports whether an identity names content (not a file changed
// just now or one that cannot be hashed, whose identities are unique each
// time: fileid.go), so that two of them can be compared.
func vouched(id string) bool {
	return !strings.Contains(id, ":changed-just-now:") && !strings.Contains(id, ":unhashable:")
}
