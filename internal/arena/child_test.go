//go:build linux

package arena

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// childEnv switches the test binary into childMain: an executor that
// receives an arena over the Unix socket on descriptor 3.
const childEnv = "SHOAL_ARENA_TEST_CHILD"

// TestMapInAnotherProcess hands the arena's file to another process over a
// Unix socket. The child maps it read-only, checksums the span the parent
// wrote, and tries to write: through the view (which must fault), to the
// descriptor, and by mapping it writable (which must both be refused).
func TestMapInAnotherProcess(t *testing.T) {
	a := newTestArena(t, 64<<20, Options{}, defaultPolicy(testPage))
	s, _ := a.Alloc(10<<20 + 123)
	fill(a.Bytes(s), 42)
	want := crc32.ChecksumIEEE(a.Bytes(s))

	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "parent"), os.NewFile(uintptr(pair[1]), "child")
	defer mine.Close()
	fc, err := net.FileConn(mine)
	if err != nil {
		t.Fatal(err)
	}
	conn := fc.(*net.UnixConn)
	defer conn.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.ExtraFiles = []*os.File{theirs}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	header := binary.LittleEndian.AppendUint64(nil, uint64(a.Size()))
	header = binary.LittleEndian.AppendUint64(header, uint64(s.Off))
	header = binary.LittleEndian.AppendUint64(header, uint64(s.Len))
	if err := SendFile(conn, a.File(), header); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	report := map[string]string{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			report[k] = v
		}
	}
	t.Logf("child reports %q", report)
	if got := report["crc"]; got != fmt.Sprintf("%08x", want) {
		t.Errorf("child read checksum %s, the parent wrote %08x", got, want)
	}
	if got := report["view-write"]; !strings.HasPrefix(got, "faulted: ") || !strings.HasSuffix(got, "(at the view's byte 0: true)") {
		t.Errorf("a write through the child's view: %s, want a fault", got)
	}
	for _, k := range []string{"fd-write", "fd-map-writable"} {
		if got := report[k]; !strings.HasPrefix(got, "refused: ") {
			t.Errorf("%s in the child: %s, want refused", k, got)
		}
	}
	if a.Bytes(s)[0] != 42 {
		t.Error("the child changed the arena")
	}
}

// childMain is the child's side of TestMapInAnotherProcess; it prints
// key=value lines.
func childMain() int {
	fail := func(err error) int { fmt.Println("error=", err); return 1 }
	fc, err := net.FileConn(os.NewFile(3, "socket"))
	if err != nil {
		return fail(err)
	}
	defer fc.Close()
	f, header, err := RecvFile(fc.(*net.UnixConn))
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	size, off, n := int64(binary.LittleEndian.Uint64(header)), int64(binary.LittleEndian.Uint64(header[8:])), int64(binary.LittleEndian.Uint64(header[16:]))
	v, err := Map(f, size)
	if err != nil {
		return fail(err)
	}
	defer v.Close()
	b, err := v.Bytes(off, n)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("crc=%08x\n", crc32.ChecksumIEEE(b))
	fmt.Printf("view-write=%s\n", tryWrite(b))
	if _, err := f.WriteAt([]byte{1}, off); err != nil {
		fmt.Printf("fd-write=refused: %v\n", err)
	} else {
		fmt.Println("fd-write=succeeded")
	}
	if m, err := syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); err != nil {
		fmt.Printf("fd-map-writable=refused: %v\n", err)
	} else {
		syscall.Munmap(m)
		fmt.Println("fd-map-writable=succeeded")
	}
	return 0
}

// tryWrite writes to b, which is read-only memory, and says what happened.
func tryWrite(b []byte) (what string) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			what = fmt.Sprintf("faulted: %v", r)
			if f, ok := r.(interface{ Addr() uintptr }); ok {
				what += fmt.Sprintf(" (at the view's byte 0: %v)", f.Addr() == uintptr(unsafe.Pointer(&b[0])))
			}
		}
	}()
	b[0] = 1
	return "succeeded"
}
