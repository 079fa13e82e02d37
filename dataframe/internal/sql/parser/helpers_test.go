package parser

import (
	"reflect"
	"testing"
)

var spanType = reflect.TypeOf(Span{})

// withoutSpans returns a copy of n's tree with every span zeroed, so that
// trees parsed from different texts compare equal.
func withoutSpans(n Node) Node {
	c := reflect.New(reflect.TypeOf(n).Elem())
	c.Elem().Set(reflect.ValueOf(n).Elem())
	deepCopyClear(c.Elem())
	return c.Interface().(Node)
}

func deepCopyClear(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		deepCopyClear(c.Elem())
		v.Set(c)
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := reflect.New(v.Elem().Type()).Elem()
		e.Set(v.Elem())
		deepCopyClear(e)
		v.Set(e)
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			deepCopyClear(c.Index(i))
		}
		v.Set(c)
	case reflect.Struct:
		if v.Type() == spanType {
			v.Set(reflect.Zero(spanType))
			return
		}
		for i := range v.NumField() {
			deepCopyClear(v.Field(i))
		}
	}
}

func sameTree(a, b Node) bool { return reflect.DeepEqual(withoutSpans(a), withoutSpans(b)) }

// checkRoundTrip checks that s's canonical text parses back to s, and that
// the text is a fixed point.
func checkRoundTrip(t *testing.T, s Statement) {
	t.Helper()
	text := s.String()
	again, err := Parse(text)
	if err != nil {
		t.Fatalf("canonical text does not parse: %v\n%s", err, text)
	}
	if !sameTree(s, again) {
		t.Fatalf("canonical text parses to another tree:\n%s\n%s", text, again.String())
	}
	if again.String() != text {
		t.Fatalf("canonical text is not a fixed point:\n%s\n%s", text, again.String())
	}
}
