package shoal

import (
	"reflect"
	"strings"
	"testing"
)

type sharedType struct{}

// Two actor classes of one Go type are refused, saying why: a handle's
// type names its class, so they would be taken for each other.
func TestActorClassesNeedTypesOfTheirOwn(t *testing.T) {
	byType := map[reflect.Type]string{}
	typ := reflect.TypeFor[sharedType]()
	if err := claimActorType(byType, typ, "test.A"); err != nil {
		t.Fatal(err)
	}
	if err := claimActorType(byType, typ, "test.A"); err != nil {
		t.Fatalf("the same class again: %v", err)
	}
	err := claimActorType(byType, typ, "test.B")
	if err == nil || !strings.Contains(err.Error(), `"test.A" and "test.B" both make *shoal.sharedType`) {
		t.Fatalf("a second class of the type: %v", err)
	}
}
