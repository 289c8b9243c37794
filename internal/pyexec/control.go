package pyexec

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
)

// controlHeader is the task the runner writes to the bootstrap's fd 3,
// ahead of the converter's source and the user's code. Its wire form is
// what bootstrap.py parses:
//
//	CX1 <nonce> <channel fd> <max output> <audit 0|1> <inputs> <max open files> <len(convert)>\n
//	<hex(scratch dir)>\n
//	<fd> <csv|json> <hex(name)>\n     (one line per input)
//	<convert.py source><user code>
//
// Every free-text field is hex-encoded, so no value can add a line or a
// field.
type controlHeader struct {
	Nonce        string // hex, from crypto/rand
	ChannelFD    int
	MaxOutput    int64
	Audit        bool
	MaxOpenFiles int
	Scratch      string
	Inputs       []controlInput
	Convert      string
}

// controlInput is one input table: the fd it is open on and its format.
type controlInput struct {
	FD     int
	Format string // "csv" or "json"
	Name   string
}

// encode returns the header and the converter, ready to be followed by the
// code.
func (h controlHeader) encode() []byte {
	var b bytes.Buffer
	audit := "0"
	if h.Audit {
		audit = "1"
	}
	fmt.Fprintf(&b, "CX1 %s %d %d %s %d %d %d\n%s\n", h.Nonce, h.ChannelFD, h.MaxOutput, audit,
		len(h.Inputs), h.MaxOpenFiles, len(h.Convert), hex.EncodeToString([]byte(h.Scratch)))
	for _, in := range h.Inputs {
		b.WriteString(strconv.Itoa(in.FD) + " " + in.Format + " " + hex.EncodeToString([]byte(in.Name)) + "\n")
	}
	b.WriteString(h.Convert)
	return b.Bytes()
}
