package images

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// riffChunk is a RIFF chunk: FourCC, little-endian length, data, padding
// to an even length.
func riffChunk(fourCC string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint32([]byte(fourCC), uint32(len(data)))
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

// webpFile wraps chunks in a RIFF WEBP file.
func webpFile(chunks ...[]byte) []byte {
	return riffChunk("RIFF", append([]byte("WEBP"), bytes.Join(chunks, nil)...))
}

// vp8xChunk is an extended-format header for a w×h canvas.
func vp8xChunk(alpha bool, w, h int) []byte {
	b := make([]byte, 10)
	if alpha {
		b[0] = 1 << 4
	}
	for i, v := range []int{w - 1, h - 1} {
		b[4+3*i], b[5+3*i], b[6+3*i] = byte(v), byte(v>>8), byte(v>>16)
	}
	return riffChunk("VP8X", b)
}

// chunkOf returns the data of the first chunk named fourCC in a simple
// WebP file from testdata.
func chunkOf(t *testing.T, file []byte, fourCC string) []byte {
	t.Helper()
	if !bytes.Equal(file[12:16], []byte(fourCC)) {
		t.Fatalf("first chunk is %q, want %q", file[12:16], fourCC)
	}
	n := binary.LittleEndian.Uint32(file[16:20])
	return file[20 : 20+n]
}

// vp8Resized is a lossy VP8 frame whose key-frame header says w×h: the
// data is testdata's 12×8 frame, which x/image then decodes at w×h.
func vp8Resized(t *testing.T, w, h int) []byte {
	frame := bytes.Clone(chunkOf(t, testdata(t, "lossy.webp"), "VP8 "))
	binary.LittleEndian.PutUint16(frame[6:], uint16(w))
	binary.LittleEndian.PutUint16(frame[8:], uint16(h))
	return frame
}

// lsbBits writes VP8L's least-significant-bit-first bit stream.
type lsbBits struct {
	out  []byte
	acc  uint64
	used uint
}

func (b *lsbBits) put(v uint64, n uint) {
	b.acc |= v << b.used
	for b.used += n; b.used >= 8; b.used -= 8 {
		b.out = append(b.out, byte(b.acc))
		b.acc >>= 8
	}
}

func (b *lsbBits) done() []byte {
	if b.used > 0 {
		b.out = append(b.out, byte(b.acc))
	}
	return b.out
}

// vp8lOneColour is a VP8L image of w×h pixels of one colour: each of its
// five Huffman codes has one symbol, so a pixel costs no bits and any
// size fits in a few bytes.
func vp8lOneColour(w, h int) []byte {
	var b lsbBits
	b.put(0x2f, 8) // signature
	b.put(uint64(w-1), 14)
	b.put(uint64(h-1), 14)
	b.put(0, 1+3) // alpha unused, version 0
	b.put(0, 1)   // no transform
	b.put(0, 1)   // no colour cache
	b.put(0, 1)   // no meta Huffman codes
	for range 5 {
		b.put(1, 1) // simple code
		b.put(0, 1) // one symbol
		b.put(0, 1) // of 1 bit
		b.put(0, 1) // symbol 0
	}
	return b.done()
}

// The pixel check must see the size webp.Decode will decode, which is the
// VP8 or VP8L frame's own header, not the VP8X canvas (x/image never
// compares the two).
func TestDecodeExtendedWebP(t *testing.T) {
	lossless := chunkOf(t, testdata(t, "lossless.webp"), "VP8L")
	lossy := chunkOf(t, testdata(t, "lossy.webp"), "VP8 ")
	opaque := append([]byte{0}, bytes.Repeat([]byte{255}, 12*8)...) // ALPH: uncompressed, no filter
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}
	tests := []struct {
		name string
		data []byte
		code string // "" for a 12×8 image
		msg  string
	}{
		{"lossless", webpFile(vp8xChunk(false, 12, 8), riffChunk("VP8L", lossless)), "", ""},
		{"lossy", webpFile(vp8xChunk(false, 12, 8), riffChunk("VP8 ", lossy)), "", ""},
		{"lossy with alpha", webpFile(vp8xChunk(true, 12, 8), riffChunk("ALPH", opaque), riffChunk("VP8 ", lossy)), "", ""},
		{"other chunks before the frame", webpFile(vp8xChunk(false, 12, 8), riffChunk("ICCP", []byte("profile")), riffChunk("VP8L", lossless)), "", ""},

		// A 46-byte file whose canvas is 1×1 and whose frame is 4096×4096.
		{"lossless frame over the limit, canvas 1x1", webpFile(vp8xChunk(false, 1, 1), riffChunk("VP8L", vp8lOneColour(4096, 4096))),
			CodeTooLarge, "4096x4096 = 16777216 pixels, more than the limit of 1048576"},
		{"lossy frame over the limit", webpFile(vp8xChunk(false, 12, 8), riffChunk("VP8 ", vp8Resized(t, 4096, 4096))),
			CodeTooLarge, "4096x4096"},
		{"lossy frame with alpha over the limit", webpFile(vp8xChunk(true, 12, 8), riffChunk("ALPH", opaque), riffChunk("VP8 ", vp8Resized(t, 4096, 2048))),
			CodeTooLarge, "4096x2048"},
		{"lossless frame not the canvas", webpFile(vp8xChunk(false, 1, 1), riffChunk("VP8L", lossless)),
			CodeInvalidImage, "frame is 12x8 but its canvas is 1x1"},
		// Before the check, toRGB read past the alpha plane: a panic (500).
		{"lossy frame larger than its alpha plane", webpFile(vp8xChunk(true, 4, 2), riffChunk("ALPH", opaque[:1+4*2]), riffChunk("VP8 ", lossy)),
			CodeInvalidImage, "frame is 12x8 but its canvas is 4x2"},
		{"lossy frame smaller than the canvas", webpFile(vp8xChunk(false, 24, 8), riffChunk("VP8 ", lossy)),
			CodeInvalidImage, "frame is 12x8 but its canvas is 24x8"},
		{"no frame", webpFile(vp8xChunk(false, 12, 8)), CodeInvalidImage, "no VP8 or VP8L image chunk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Decode(tt.data, lim)
			if tt.code == "" {
				if err != nil || img.Width != 12 || img.Height != 8 {
					t.Fatalf("Decode = %dx%d, %v; want 12x8", img.Width, img.Height, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("a %d-byte file decoded to %dx%d", len(tt.data), img.Width, img.Height)
			}
			if e, ok := AsError(err); !ok || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("err = %v, want code %s with %q", err, tt.code, tt.msg)
			}
		})
	}
}
