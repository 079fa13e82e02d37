package dashboard

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

const largestObjects = 50

type objectsView struct {
	Objects, Bytes          int64
	Memory, Limit           int64
	Spilled, SpilledObjects int64
	Spills, Restores        int64
	Stores                  []storeRow
	Pager                   pager
	Largest                 []objectRow
}

type storeRow struct {
	Short, Host, State        string
	Objects, Memory, Limit    int64
	SpilledObjects, Spilled   int64
	SpillFiles, SpillFileSize int64
	Spills, Restores          int64
	Shared, SharedSize        int64
}

type objectRow struct {
	Short, State, Job string
	Size              int64
	Inline            bool
	Nodes             []string
	Refs              int32
}

func (d *Dashboard) objectsPage(r *http.Request, b *base) (any, error) {
	b.Title = "Objects"
	m := d.read.Metrics()
	st := m.Status
	v := &objectsView{Objects: st.Objects, Bytes: st.ObjectBytes}
	var nodes []*pb.NodeStatus
	for _, n := range st.Nodes {
		if !n.Alive {
			continue
		}
		nodes = append(nodes, n)
		s := n.Store
		v.Memory += s.GetMemoryBytes()
		v.Limit += s.GetMemoryLimit()
		v.Spilled += s.GetSpilledBytes()
		v.SpilledObjects += s.GetSpilledObjects()
		v.Spills += s.GetSpills()
		v.Restores += s.GetRestores()
	}
	// The fullest stores first.
	slices.SortFunc(nodes, func(a, b *pb.NodeStatus) int {
		return cmp.Or(cmp.Compare(b.Store.GetMemoryBytes()+b.Store.GetSpilledBytes(), a.Store.GetMemoryBytes()+a.Store.GetSpilledBytes()),
			strings.Compare(a.Hostname, b.Hostname), slices.Compare(a.NodeId, b.NodeId))
	})
	v.Pager = paginate(r, len(nodes), nodesPerPage)
	for _, n := range nodes[v.Pager.From:v.Pager.To] {
		s := n.Store
		v.Stores = append(v.Stores, storeRow{Short: abbrevID(n.NodeId), Host: n.Hostname, State: nodeState(n, m.Draining[string(n.NodeId)]),
			Objects: n.StoreObjects, Memory: s.GetMemoryBytes(), Limit: s.GetMemoryLimit(), SpilledObjects: s.GetSpilledObjects(),
			Spilled: s.GetSpilledBytes(), SpillFiles: s.GetSpillFiles(), SpillFileSize: s.GetSpillFileBytes(), Spills: s.GetSpills(),
			Restores: s.GetRestores(), Shared: s.GetSharedBytes(), SharedSize: s.GetSharedSize()})
	}
	for _, o := range d.read.LargestObjects(largestObjects) {
		row := objectRow{Short: o.ID.Short(), State: o.State, Job: o.Job, Size: o.Size, Inline: o.Inline, Refs: o.Refs}
		for _, n := range o.Nodes {
			if id, err := ids.FromBytes("node id", n); err == nil {
				row.Nodes = append(row.Nodes, id.Abbrev())
			}
		}
		v.Largest = append(v.Largest, row)
	}
	return v, nil
}
