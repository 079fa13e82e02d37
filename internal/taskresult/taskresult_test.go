package taskresult

import (
	"context"
	"testing"
)

func TestGatherTakesPartsOnceAndCloseReleasesThem(t *testing.T) {
	released := 0
	release := func() { released++ }
	parts := [][]byte{[]byte("a"), []byte("b")}
	if Gather(context.Background(), parts, release) {
		t.Fatal("Gather without a slot (not in an executor) took the parts")
	}
	ctx, slot := With(context.Background())
	if _, ok := slot.Parts(); ok {
		t.Fatal("an empty slot has parts")
	}
	if !Gather(ctx, parts, release) {
		t.Fatal("Gather into a slot refused")
	}
	if Gather(ctx, parts, release) {
		t.Fatal("a second Gather into the slot was taken")
	}
	if got, ok := slot.Parts(); !ok || len(got) != 2 {
		t.Fatalf("the slot holds %q, %v", got, ok)
	}
	if released != 0 {
		t.Fatal("released before the slot closed")
	}
	slot.Close()
	slot.Close()
	if released != 1 {
		t.Fatalf("released %d times, want once", released)
	}
	if Gather(ctx, parts, release) {
		t.Fatal("Gather into a closed slot was taken")
	}
}
