package errs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Errors a program registers (shoal.RegisterError, RegisterErrorType) so
// that errors.Is and errors.As still find them after a task's error crossed
// processes. Driver and executors are the same binary and register the same
// errors at init time, so a name means the same error on both sides. This
// is a registry, written at init time and read afterwards.
var registered struct {
	sync.RWMutex
	sentinels map[string]error
	names     []string // sentinel names, in registration order
	types     map[string]ErrorType
	typeNames []string
}

// Shoal's own kind sentinels are registered too, so that a task whose
// error wraps another task's (a nested task's, an argument's read inside
// it) still matches that task's kind: errors.Is(err, ErrActorDied) holds
// for the parent of a call that found its actor dead.
func init() {
	for kind, sentinel := range kindSentinels {
		if kind != pb.ErrorKind_ERROR_KIND_APPLICATION {
			RegisterSentinel("shoal."+strings.TrimPrefix(kind.String(), "ERROR_KIND_"), sentinel)
		}
	}
}

// ErrorType is a registered error type: Match finds an error of the type
// in a chain and encodes it; Decode makes it again from the encoding.
type ErrorType struct {
	Match  func(err error) ([]byte, bool)
	Decode func(b []byte) (error, error)
}

// RegisterSentinel registers err under name; registering a name twice
// panics (as registering a function twice does).
func RegisterSentinel(name string, err error) {
	if err == nil {
		panic("shoal: RegisterError needs a non-nil error")
	}
	register("error", &registered.sentinels, &registered.names, name, err)
}

// RegisterType registers an error type under name.
func RegisterType(name string, t ErrorType) {
	if t.Match == nil || t.Decode == nil {
		panic("shoal: RegisterErrorType needs a match and a decode function")
	}
	register("error type", &registered.types, &registered.typeNames, name, t)
}

// register adds v to the registry m under name, keeping names in
// registration order.
func register[V any](what string, m *map[string]V, names *[]string, name string, v V) {
	registered.Lock()
	defer registered.Unlock()
	if name == "" {
		panic(fmt.Sprintf("shoal: registering an %s needs a name", what))
	}
	if _, dup := (*m)[name]; dup {
		panic(fmt.Sprintf("shoal: %s %q registered twice", what, name))
	}
	if *m == nil {
		*m = map[string]V{}
	}
	(*m)[name] = v
	*names = append(*names, name)
}

// Application is the wire form of an error a task's function returned:
// its text, the registered sentinels it matches and the first registered
// error type in its chain.
func Application(err error) *pb.ErrorInfo {
	info := &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_APPLICATION, Message: err.Error()}
	describe(info, err)
	return info
}

// describe adds to info what registered errors err carries.
func describe(info *pb.ErrorInfo, err error) {
	// (Matching may come back here through TaskError.Is: not under the
	// lock.)
	registered.RLock()
	names, typeNames := registered.names, registered.typeNames
	sentinels, types := registered.sentinels, registered.types
	registered.RUnlock()
	for _, name := range names {
		if errors.Is(err, sentinels[name]) {
			info.Codes = append(info.Codes, name)
		}
	}
	for _, name := range typeNames {
		if b, ok := types[name].Match(err); ok {
			info.DetailType, info.Detail = name, b
			break
		}
	}
}

// isRegistered reports whether target is a registered sentinel named in
// codes.
func isRegistered(codes []string, target error) bool {
	if len(codes) == 0 {
		return false
	}
	registered.RLock()
	defer registered.RUnlock()
	return slices.ContainsFunc(codes, func(name string) bool { return registered.sentinels[name] == target })
}

// decodeDetail makes again the registered error a wire error carries, or
// returns nil (an unknown name, or bytes that do not decode).
func decodeDetail(info *pb.ErrorInfo) error {
	if info.DetailType == "" {
		return nil
	}
	registered.RLock()
	t, ok := registered.types[info.DetailType]
	registered.RUnlock()
	if !ok {
		return nil
	}
	err, derr := t.Decode(info.Detail)
	if derr != nil {
		return nil
	}
	return err
}
