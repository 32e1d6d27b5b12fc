// The disk workload (CONTRACT.md, "Task i"): the data file, made from its definition when
// missing, and one block read (or written) per task with os.File's ReadAt / WriteAt.
//
// A file read in Go is a blocking pread: the goroutine holds its OS thread in the kernel, and
// the scheduler hands the thread's P to another thread so that the other goroutines run. N
// reads in flight can mean N threads; the runtime stops the program past 10,000 of them
// (debug.SetMaxThreads). The report's peak_threads is the runtime's own count of threads made.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

const align = 4096

func splitmix64(x uint64) uint64 {
	z := x + 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// fill puts the definition's words for the bytes from offset on into out.
func fill(offset uint64, out []byte) {
	for k := 0; k+8 <= len(out); k += 8 {
		binary.LittleEndian.PutUint64(out[k:], splitmix64(offset/8+uint64(k/8)))
	}
}

// parseSize reads 4096, 64M, 1G (powers of 1024); a positive multiple of 4096.
func parseSize(name, text string) uint64 {
	number := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(text), "IB"), "B")
	shift := map[string]uint{"K": 10, "M": 20, "G": 30, "T": 40}[number[max(0, len(number)-1):]]
	if shift > 0 {
		number = number[:len(number)-1]
	}
	n, err := strconv.ParseUint(number, 10, 64)
	if err != nil {
		reject(fmt.Sprintf("--%s: %q is not a size (say 4096, 64M or 1G)", name, text))
	}
	size := n << shift
	if size == 0 || size%align != 0 || size>>shift != n {
		reject(fmt.Sprintf("--%s: %d bytes is not a positive multiple of 4096", name, size))
	}
	return size
}

type dataFile struct {
	f             *os.File
	path          string
	size, bytes   uint64
	direct, write bool
	buffers       sync.Pool
}

// openData opens the file once for every goroutine: ReadAt and WriteAt take no offset lock.
func openData(a *args) (*dataFile, error) {
	d := &dataFile{path: a.file, bytes: a.bytes, direct: !a.buffered, write: a.write}
	if d.path == "" {
		d.path = fmt.Sprintf("data/disk-%d.bin", a.fileSizeOr())
	}
	info, err := os.Stat(d.path)
	if errors.Is(err, os.ErrNotExist) {
		if err := create(d.path, a.fileSizeOr(), a.file == ""); err != nil {
			return nil, fmt.Errorf("cannot create %s: %v", d.path, err)
		}
		info, err = os.Stat(d.path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", d.path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a data file: name a regular --file (or a path where one may be made)", d.path, kindOf(info.Mode()))
	}
	d.size = uint64(info.Size())
	if a.fileSize != 0 && a.fileSize != d.size {
		return nil, fmt.Errorf("%s is %d bytes, not the --file-size %d asked for: name another --file", d.path, d.size, a.fileSize)
	}
	if d.size < d.bytes {
		return nil, fmt.Errorf("%s is %d bytes, less than one block of --bytes %d", d.path, d.size, d.bytes)
	}
	flags := os.O_RDONLY
	if d.write {
		flags = os.O_RDWR | syscall.O_DSYNC
	}
	if d.direct {
		flags |= syscall.O_DIRECT
	}
	if d.f, err = os.OpenFile(d.path, flags, 0); err != nil {
		return nil, d.failure("cannot open", err)
	}
	d.buffers.New = func() any { return aligned(int(d.bytes)) }
	return d, nil
}

func (d *dataFile) failure(what string, err error) error {
	if errors.Is(err, syscall.EINVAL) && d.direct && what == "cannot open" {
		kind := filesystemOf(d.path)
		if kind != "" {
			kind += " "
		}
		return fmt.Errorf("%s: its %sfilesystem refuses O_DIRECT (EINVAL at open): pass --buffered to go through the page cache, or name a --file on a filesystem that takes it", d.path, kind)
	}
	if errors.Is(err, syscall.EINVAL) && d.direct {
		// It opened, so the filesystem takes O_DIRECT: the transfer does not suit the device.
		return fmt.Errorf("%s: the device refused an O_DIRECT transfer %s it (EINVAL): its logical block size (`lsblk -t`) may be larger than --bytes; or pass --buffered", d.path, what)
	}
	return fmt.Errorf("%s %s: %v", what, d.path, err)
}

// filesystemOf is the type of the filesystem path is on, as the kernel names it ("ext4",
// "tmpfs"): the mount in /proc/self/mountinfo whose point is the longest prefix of the path.
func filesystemOf(path string) string {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	if real, err = filepath.Abs(real); err != nil {
		return ""
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	best, kind := -1, ""
	for _, line := range strings.Split(string(info), "\n") {
		fields, rest, ok := strings.Cut(line, " - ")
		parts := strings.Split(fields, " ")
		if !ok || len(parts) < 5 {
			continue
		}
		point := strings.ReplaceAll(parts[4], "\\040", " ")
		inside := real == point || strings.HasPrefix(real, strings.TrimSuffix(point, "/")+"/")
		if inside && len(point) >= best {
			best, kind = len(point), strings.SplitN(rest, " ", 2)[0]
		}
	}
	return kind
}

// aligned is a buffer at a 4 KiB-aligned address, as O_DIRECT wants: a slice may start anywhere.
func aligned(n int) []byte {
	b := make([]byte, n+align)
	skip := (align - int(uintptr(unsafe.Pointer(&b[0]))%align)) % align
	return b[skip : skip+n]
}

// task reads (or writes) task id's block, blocking the goroutine's thread; its value.
func (d *dataFile) task(id int) (uint64, error) {
	buf := d.buffers.Get().([]byte)
	defer d.buffers.Put(buf)
	offset := splitmix64(uint64(id)) % (d.size / d.bytes) * d.bytes
	var err error
	if d.write {
		fill(offset, buf)
		_, err = d.f.WriteAt(buf, int64(offset))
	} else {
		_, err = d.f.ReadAt(buf, int64(offset))
	}
	if err != nil {
		return 0, d.failure(fmt.Sprintf("at offset %d of", offset), err)
	}
	var sum uint64
	for k := 0; k < len(buf); k += 8 {
		sum += binary.LittleEndian.Uint64(buf[k:])
	}
	return sum, nil
}

// create writes every word into a temporary file renamed into place once whole.
func create(path string, size uint64, defaultPath bool) error {
	if defaultPath {
		if err := os.MkdirAll("data", 0o755); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "creating the data file %s (%d bytes) from the definition\n", path, size)
	tmp := fmt.Sprintf("%s.tmp.%d", path, os.Getpid())
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	chunk := make([]byte, 1<<20)
	for at := uint64(0); at < size && err == nil; at += uint64(len(chunk)) {
		n := min(uint64(len(chunk)), size-at)
		fill(at, chunk[:n])
		_, err = w.Write(chunk[:n])
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// threadsMade is how many OS threads the runtime has made: it keeps them, so this is the peak.
func threadsMade() int {
	return pprof.Lookup("threadcreate").Count()
}

// kindOf is what a path that is not a regular file is, in words, as the Rust models say it.
func kindOf(mode os.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&os.ModeNamedPipe != 0:
		return "a FIFO"
	case mode&os.ModeCharDevice != 0:
		return "a character device"
	case mode&os.ModeDevice != 0:
		return "a block device"
	case mode&os.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}
