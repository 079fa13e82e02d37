package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shoal-dev/shoal"
	_ "github.com/shoal-dev/shoal/arrowcodec" // record batches as task values
	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/exchange"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// SourceKind is the scan.Spec kind of a Futures source.
const SourceKind = "futures"

// Futures is a table whose partitions are objects on the cluster, one per
// partition, read where they are: Arrow record batches (FromFutures), or
// the result partitions a query left on the cluster (Persist). Its
// identity is the identity of every object it reads (their IDs, which are
// never reused), so two tables over different futures never share a token,
// whatever made them.
type Futures struct {
	schema  types.Schema
	id      string
	rows    int64
	records []*shoal.Future[arrow.RecordBatch]
	outputs []*shoal.Future[[]byte]
	// part is the partition a partition task's copy holds (its futures
	// only), -1 on the driver.
	part int
}

// NewRecordFutures makes a table over futures of Arrow record batches, one
// partition each. Its schema is read on the cluster, where the first
// batch is (the driver does not fetch it).
func NewRecordFutures(ctx context.Context, futs []*shoal.Future[arrow.RecordBatch]) (*Futures, error) {
	if len(futs) == 0 {
		return nil, fmt.Errorf("FromFutures needs at least one future")
	}
	for i, f := range futs {
		if f == nil {
			return nil, fmt.Errorf("FromFutures: future %d is nil", i)
		}
	}
	js, err := schemaTask.Remote(ctx, futs[0]).Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("FromFutures: reading the schema of the first record batch: %w", err)
	}
	var s types.Schema
	if err := json.Unmarshal(js, &s); err != nil {
		return nil, fmt.Errorf("FromFutures: decoding the schema of the first record batch: %w", err)
	}
	return &Futures{schema: s, id: futuresIdentity("records", s, futs), rows: -1, records: futs, part: -1}, nil
}

// newOutputFutures makes a table over a query's result partitions left on
// the cluster.
func newOutputFutures(s types.Schema, outs []*shoal.Future[[]byte], rows int64) *Futures {
	return &Futures{schema: s, id: futuresIdentity("outputs", s, outs), rows: rows, outputs: outs, part: -1}
}

func futuresIdentity[T any](kind string, s types.Schema, futs []*shoal.Future[T]) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s", kind, s)
	for _, f := range futs {
		fmt.Fprintf(h, "|%s", f.ID())
	}
	return SourceKind + ":" + hex.EncodeToString(h.Sum(nil))
}

// schemaTask reads a record batch's schema where the batch is.
var schemaTask = shoal.Func1("shoal.dataframe.schema", func(ctx context.Context, rec arrow.RecordBatch) ([]byte, error) {
	s, err := schemaOf(rec.Schema())
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
})

func schemaOf(as *arrow.Schema) (types.Schema, error) {
	s := make(types.Schema, as.NumFields())
	for i, f := range as.Fields() {
		t, err := types.FromArrow(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		s[i] = types.Field{Name: f.Name, Type: t, Nullable: f.Nullable}
	}
	return s, nil
}

// Schema implements scan.Source.
func (t *Futures) Schema() types.Schema { return t.schema }

// Identity implements scan.Source.
func (t *Futures) Identity() string { return t.id }

// Describe implements scan.Source.
func (t *Futures) Describe() string {
	kind := "record batch futures"
	if t.outputs != nil {
		kind = "result partitions on the cluster"
	}
	return fmt.Sprintf("%d %s %.16s", t.NumPartitions(), kind, strings.TrimPrefix(t.id, SourceKind+":"))
}

// Rows implements scan.Source.
func (t *Futures) Rows() int64 { return t.rows }

// NumPartitions is the number of objects: a scan of the table has one
// partition per object.
func (t *Futures) NumPartitions() int { return max(len(t.records), len(t.outputs)) }

// Spec implements scan.Specced. The futures themselves travel beside the
// stage (PartitionFutures), each partition task getting its own.
func (t *Futures) Spec() scan.Spec {
	return scan.Spec{Kind: SourceKind, Schema: t.schema, Identity: t.id}
}

// partFutures is what one partition task gets of a Futures table.
type partFutures struct {
	Identity string
	Records  []*shoal.Future[arrow.RecordBatch]
	Outputs  []*shoal.Future[[]byte]
}

// forPartition returns the futures partition p of n reads.
func (t *Futures) forPartition(p, n int) partFutures {
	pf := partFutures{Identity: t.id}
	for i := p; i < len(t.records); i += n {
		pf.Records = append(pf.Records, t.records[i])
	}
	for i := p; i < len(t.outputs); i += n {
		pf.Outputs = append(pf.Outputs, t.outputs[i])
	}
	return pf
}

// Open implements scan.Source: partition p of n reads objects p, p+n, ….
func (t *Futures) Open(ctx context.Context, req scan.Request) (colexecop.Operator, error) {
	pf := partFutures{Identity: t.id, Records: t.records, Outputs: t.outputs}
	if t.part < 0 {
		pf = t.forPartition(req.Partition, req.Partitions)
	} else if t.part != req.Partition {
		return nil, fmt.Errorf("a partition task holding partition %d of %s was asked for partition %d", t.part, t.Describe(), req.Partition)
	}
	var batches []*coldata.Batch
	for i, f := range pf.Records {
		rec, err := f.Get(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s, partition %d, record batch %d: %w", t.Describe(), req.Partition, i, err)
		}
		s, err := schemaOf(rec.Schema())
		if err != nil {
			return nil, fmt.Errorf("%s, partition %d, record batch %d: %w", t.Describe(), req.Partition, i, err)
		}
		if !slices.Equal(s, t.schema) {
			return nil, fmt.Errorf("%s: record batch %d of partition %d has schema %s, the first one has %s: every batch of a frame has one schema",
				t.Describe(), i, req.Partition, s, t.schema)
		}
		b, err := coldata.FromRecordColumns(t.schema, rec, req.Columns)
		if err != nil {
			return nil, fmt.Errorf("%s, partition %d: %w", t.Describe(), req.Partition, err)
		}
		batches = append(batches, b)
	}
	var reader *mapReader
	if len(pf.Outputs) > 0 {
		reader = &mapReader{in: input{Kind: exchange.Single, Maps: pf.Outputs}, schema: t.schema, columns: req.Columns}
		bs, err := reader.Read(ctx, 0)
		if err != nil {
			reader.Close()
			return nil, fmt.Errorf("%s, partition %d: %w", t.Describe(), req.Partition, err)
		}
		batches = append(batches, bs...)
	}
	op, err := scan.NewMemTable(t.schema, batches).Open(ctx, scan.Request{Partition: 0, Partitions: 1,
		Columns: req.Columns, Filter: req.Filter, BatchSize: req.BatchSize})
	if err != nil {
		if reader != nil {
			reader.Close()
		}
		return nil, err
	}
	return &colexecop.Func{
		OnInit: op.Init,
		OnNext: op.Next,
		OnClose: func() error {
			err := op.Close()
			if reader != nil {
				reader.Close()
			}
			// The batches are views of the futures' values in the node's
			// memory, valid while the futures are: a future collected
			// meanwhile lets go of its object's memory, which the store
			// may evict and reuse under the batches (an 8x-budget
			// shuffle read zeros where its input had been).
			runtime.KeepAlive(pf.Records)
			return err
		},
	}, nil
}

// resolveSource opens a stage's source spec in a partition task: futures
// tables from what the task was given, files from their specs.
func resolveSource(part int, given []partFutures) func(scan.Spec) (scan.Source, error) {
	return func(s scan.Spec) (scan.Source, error) {
		if s.Kind != SourceKind {
			return scan.FromSpec(s)
		}
		for _, g := range given {
			if g.Identity == s.Identity {
				return &Futures{id: g.Identity, rows: -1, records: g.Records, outputs: g.Outputs, part: part, schema: s.Schema}, nil
			}
		}
		return nil, fmt.Errorf("the partition task was not given the futures of source %.40s", s.Identity)
	}
}
