// Package codec turns user values into bytes and back: one Codec interface,
// CBOR by default, raw bytes for []byte, and codecs registered for other
// types (the dataframe engine registers Arrow IPC for record batches).
//
// Every encoded value starts with a one-byte tag naming its codec, so a
// decoder never guesses. Decoding never allocates more than the input
// justifies: CBOR input is checked for well-formedness (every declared length
// must fit in the data) before any allocation, nesting depth and container
// sizes are bounded, and a value decoded into interfaces may not grow past
// 32× its encoding (budget.go).
package codec

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Tag names the codec an encoded value was written with.
type Tag byte

// Tags of the built-in codecs. Registered codecs use tags from TagUser up.
const (
	TagCBOR  Tag = 1
	TagRaw   Tag = 2
	TagArrow Tag = 3
	TagUser  Tag = 16
)

// Codec encodes and decodes values of the types it is registered for.
type Codec interface {
	// Tag is the byte written before every value this codec encodes.
	Tag() Tag
	// AppendEncode appends the encoding of v to dst.
	AppendEncode(dst []byte, v any) ([]byte, error)
	// Decode decodes data into the value v points to.
	Decode(data []byte, v any) error
}

// Anchored is implemented by a codec whose decoded values read the bytes
// they were decoded from in place (views, not copies).
type Anchored interface {
	// Anchor ties the bytes v (decoded by this codec) reads in place to
	// the heap objects through which it reaches them: for each, it takes
	// a share of the bytes (share) and drops it (calls what share
	// returned) once the garbage collector finds that object unreachable.
	Anchor(v any, share func() (drop func()))
}

// Anchor ties the bytes a decoded value reads in place to the value, when
// its codec reads them in place and says so (Anchored): share is called
// once per heap object through which the value reaches them, and each
// share is dropped when that object is collected. It does nothing for
// other values.
func Anchor(v any, share func() (drop func())) {
	if v == nil {
		return
	}
	if a, ok := lookup(reflect.TypeOf(v)).(Anchored); ok {
		a.Anchor(v, share)
	}
}

// MayAnchor reports whether a decoded value of static type T may need
// Anchor: T is an interface (its dynamic type decides) or T's codec is
// Anchored. Callers check it first: boxing a value for Anchor costs an
// allocation per read.
func MayAnchor[T any]() bool {
	t := reflect.TypeFor[T]()
	if t.Kind() == reflect.Interface {
		return true
	}
	_, ok := lookup(t).(Anchored)
	return ok
}

// ErrMalformed is wrapped by every error about input that is not a valid
// encoded value.
var ErrMalformed = errors.New("malformed value")

var (
	encMode cbor.UserBufferEncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{Time: cbor.TimeRFC3339Nano}.UserBufferEncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		// Lengths are bounded by the input: the decoder verifies that the
		// whole item is well formed before it allocates anything. These
		// bound one value's shape beyond that (large numeric data travels
		// as bytes or Arrow, not as CBOR arrays of millions of items), and
		// checkGrowth bounds what a value decoded into interfaces takes.
		MaxNestedLevels:  maxNestedLevels,
		MaxArrayElements: maxArrayElements,
		MaxMapPairs:      maxMapPairs,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

type cborCodec struct{}

func (cborCodec) Tag() Tag { return TagCBOR }

func (cborCodec) AppendEncode(dst []byte, v any) ([]byte, error) { return appendCBOR(dst, nil, v) }

// appendCBOR appends prefix and the CBOR encoding of v to dst, growing dst
// once: the encoding is made in a pooled buffer.
func appendCBOR(dst, prefix []byte, v any) ([]byte, error) {
	buf := encodeBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			encodeBuffers.Put(buf)
		}
	}()
	buf.Reset()
	buf.Write(prefix)
	if err := encMode.MarshalToBuffer(v, buf); err != nil {
		return dst, err
	}
	return append(dst, buf.Bytes()...), nil
}

var (
	encodeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	cborPrefix    = []byte{byte(TagCBOR)}
)

// Limits on one CBOR value's shape (see init).
const (
	maxNestedLevels  = 128
	maxArrayElements = 1 << 27
	maxMapPairs      = 1 << 24
)

func (cborCodec) Decode(data []byte, v any) error {
	if err := checkGrowth(data, v); err != nil {
		return err
	}
	return decMode.Unmarshal(data, v)
}

// registry maps Go types to their codec; it is the package's only mutable
// state and is written at init time by packages that register codecs.
var registry = struct {
	sync.RWMutex
	byType     map[reflect.Type]Codec
	interfaces []reflect.Type // registered interface types, checked in order
	byTag      map[Tag]Codec
	resolved   sync.Map // concrete type -> Codec (nil entry: CBOR)
}{
	byType: map[reflect.Type]Codec{},
	byTag:  map[Tag]Codec{TagCBOR: cborCodec{}},
}

// Register makes c the codec for values of type t and pointers to t. If t is
// an interface type, c encodes every value whose type implements it (the
// Arrow codec registers arrow.RecordBatch this way). It is meant to be called
// from package init functions.
func Register(t reflect.Type, c Codec) {
	registry.Lock()
	defer registry.Unlock()
	registry.byType[t] = c
	registry.byTag[c.Tag()] = c
	if t.Kind() == reflect.Interface {
		registry.interfaces = append(registry.interfaces, t)
	}
	registry.resolved.Clear()
}

func lookup(t reflect.Type) Codec {
	if c, ok := registry.resolved.Load(t); ok {
		c, _ := c.(Codec)
		return c
	}
	registry.RLock()
	c := registry.byType[t]
	if c == nil && t.Kind() == reflect.Pointer {
		c = registry.byType[t.Elem()]
	}
	if c == nil {
		for _, it := range registry.interfaces {
			if t.Implements(it) {
				c = registry.byType[it]
				break
			}
		}
	}
	registry.RUnlock()
	registry.resolved.Store(t, c)
	return c
}

func lookupTag(tag Tag) Codec {
	registry.RLock()
	defer registry.RUnlock()
	return registry.byTag[tag]
}

// Encode returns the tagged encoding of v.
func Encode(v any) ([]byte, error) { return Append(nil, v) }

// Append appends the tagged encoding of v to dst.
func Append(dst []byte, v any) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		dst = append(dst, byte(TagRaw))
		return append(dst, b...), nil
	}
	c := codecFor(v)
	if _, ok := c.(cborCodec); ok {
		out, err := appendCBOR(dst, cborPrefix, v)
		if err != nil {
			return dst, fmt.Errorf("encoding %T: %w", v, err)
		}
		return out, nil
	}
	dst = append(dst, byte(c.Tag()))
	out, err := c.AppendEncode(dst, v)
	if err != nil {
		return dst[:len(dst)-1], fmt.Errorf("encoding %T: %w", v, err)
	}
	return out, nil
}

// Split encodes v for a writer that sends values of up to limit bytes (tag
// included) inline and larger ones apart: a small value comes back whole,
// tag and payload in one slice (one allocation for a CBOR value); a larger
// one as its tag and payload (a []byte value not copied), whole nil.
func Split(v any, limit int64) (whole []byte, tag Tag, payload []byte, err error) {
	if b, ok := v.([]byte); ok && int64(1+len(b)) > limit {
		return nil, TagRaw, b, nil
	}
	enc, err := Append(nil, v)
	if err != nil {
		return nil, 0, nil, err
	}
	if int64(len(enc)) > limit {
		return nil, Tag(enc[0]), enc[1:], nil
	}
	return enc, Tag(enc[0]), enc[1:], nil
}

// Parts returns the tag and the untagged payload of v without copying a
// []byte value, for writers that send the two separately.
func Parts(v any) (Tag, []byte, error) {
	if b, ok := v.([]byte); ok {
		return TagRaw, b, nil
	}
	c := codecFor(v)
	out, err := c.AppendEncode(nil, v)
	if err != nil {
		return 0, nil, fmt.Errorf("encoding %T: %w", v, err)
	}
	return c.Tag(), out, nil
}

func codecFor(v any) Codec {
	if v != nil {
		if c := lookup(reflect.TypeOf(v)); c != nil {
			return c
		}
	}
	return cborCodec{}
}

// Decode decodes tagged data into the value v points to. A raw-bytes value
// decoded into *[]byte or *any aliases data rather than copying it.
func Decode(data []byte, v any) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty input", ErrMalformed)
	}
	tag, payload := Tag(data[0]), data[1:]
	if tag == TagRaw {
		switch p := v.(type) {
		case *[]byte:
			*p = payload
			return nil
		case *any:
			*p = payload
			return nil
		default:
			return fmt.Errorf("cannot decode raw bytes into %T (want *[]byte)", v)
		}
	}
	c := lookupTag(tag)
	if c == nil {
		return fmt.Errorf("%w: unknown codec tag %d (is the package that registers it linked into this binary?)", ErrMalformed, tag)
	}
	if err := c.Decode(payload, v); err != nil {
		var typeErr *cbor.UnmarshalTypeError
		if errors.As(err, &typeErr) || errors.Is(err, ErrTooLarge) {
			return fmt.Errorf("decoding into %T: %w", v, err)
		}
		return fmt.Errorf("%w: decoding into %T: %v", ErrMalformed, v, err)
	}
	return nil
}

// DecodeAs decodes tagged data as a value of type T.
func DecodeAs[T any](data []byte) (T, error) {
	var v T
	err := Decode(data, &v)
	return v, err
}
