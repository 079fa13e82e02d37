package rpc

import "github.com/shoal-dev/shoal/internal/rpc/pb"

// InlineArgs reports whether every argument is an inline value holding no
// future or actor handle: what may go to an executor without the head
// (direct actor calls, leased tasks), since only the head counts
// references.
func InlineArgs(args []*pb.Arg) bool {
	for _, a := range args {
		if a.Object != nil || len(a.Nested) > 0 {
			return false
		}
	}
	return true
}

// ResolvedInline turns inline arguments into the form an executor runs.
func ResolvedInline(args []*pb.Arg) []*pb.ResolvedArg {
	out := make([]*pb.ResolvedArg, len(args))
	for i, a := range args {
		out[i] = &pb.ResolvedArg{Value: a.Value}
	}
	return out
}
