package pyexec

import (
	"fmt"
	"io"
	"sync"
)

// capBuffer keeps the first and the last max/2 bytes of a stream and
// counts the rest, so that reading an endless stream costs bounded memory.
// A stream of at most max bytes is kept whole.
type capBuffer struct {
	mu    sync.Mutex
	max   int64
	head  []byte
	tail  []byte // ring of cap max-len(head) once head is full
	pos   int    // next write position in tail once it is full
	total int64
	// onFlood is called once when total passes flood.
	flood   int64
	onFlood func()
	flooded bool
}

func newCapBuffer(max, flood int64, onFlood func()) *capBuffer {
	if max < 2 {
		max = 2
	}
	return &capBuffer{max: max, flood: flood, onFlood: onFlood}
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n := len(p)
	b.total += int64(n)
	headCap := int(b.max / 2)
	if len(b.head) < headCap {
		k := min(headCap-len(b.head), len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	tailCap := int(b.max) - headCap
	for len(p) > 0 {
		if len(b.tail) < tailCap {
			k := min(tailCap-len(b.tail), len(p))
			b.tail = append(b.tail, p[:k]...)
			p = p[k:]
			continue
		}
		if len(p) >= tailCap {
			copy(b.tail, p[len(p)-tailCap:])
			b.pos = 0
			break
		}
		k := copy(b.tail[b.pos:], p)
		p = p[k:]
		b.pos = (b.pos + k) % tailCap
	}
	fire := false
	if b.flood > 0 && b.total > b.flood && !b.flooded {
		b.flooded, fire = true, true
	}
	b.mu.Unlock()
	if fire && b.onFlood != nil {
		b.onFlood()
	}
	return n, nil
}

// Truncated reports whether bytes were dropped.
func (b *capBuffer) Truncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total > b.max
}

// Flooded reports whether the stream passed its flood limit.
func (b *capBuffer) Flooded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flooded
}

// Total is the number of bytes written.
func (b *capBuffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// String returns the kept bytes; when some were dropped, a marker line
// between head and tail says how many.
func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total <= b.max {
		return string(b.head) + string(b.tail)
	}
	tail := append(append([]byte(nil), b.tail[b.pos:]...), b.tail[:b.pos]...)
	omitted := b.total - int64(len(b.head)) - int64(len(tail))
	return string(b.head) + fmt.Sprintf("\n[... %d bytes omitted ...]\n", omitted) + string(tail)
}

// drain copies r into w until EOF or an error, with a fixed buffer.
func drain(w io.Writer, r io.Reader) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			_, _ = w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// limitedBuffer keeps up to max bytes and notes overflow.
type limitedBuffer struct {
	mu       sync.Mutex
	max      int
	buf      []byte
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - len(b.buf)
	if len(p) > room {
		b.overflow = true
		b.buf = append(b.buf, p[:max(room, 0)]...)
	} else {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

func (b *limitedBuffer) bytes() ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf, b.overflow
}
