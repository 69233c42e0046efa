package images

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"strings"
	"testing"
)

// jpegSegment is a marker segment: FF, marker, big-endian length, data.
func jpegSegment(marker byte, data []byte) []byte {
	n := len(data) + 2
	return append([]byte{0xff, marker, byte(n >> 8), byte(n)}, data...)
}

// msbBits writes a JPEG entropy-coded segment: most significant bit
// first, 0xFF stuffed as FF 00, the last byte padded with ones.
type msbBits struct {
	out  []byte
	acc  uint32
	used uint
}

func (b *msbBits) put(v uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		b.acc = b.acc<<1 | v>>uint(i)&1
		if b.used++; b.used == 8 {
			b.out = append(b.out, byte(b.acc))
			if byte(b.acc) == 0xff {
				b.out = append(b.out, 0)
			}
			b.acc, b.used = 0, 0
		}
	}
}

func (b *msbBits) flush() []byte {
	if b.used > 0 {
		b.put(0xff, 8-b.used)
	}
	out := b.out
	b.out = nil
	return out
}

// jpegScan is one scan of a progressive script: spectral selection ss–se,
// successive approximation ah, al.
type jpegScan struct{ ss, se, ah, al byte }

// libjpegGrey is the progressive script libjpeg writes for a grey image.
var libjpegGrey = []jpegScan{{0, 0, 0, 1}, {1, 5, 0, 2}, {6, 63, 0, 2}, {1, 63, 2, 1}, {0, 0, 1, 0}, {1, 63, 1, 0}}

// progressiveGrey is a valid progressive grey JPEG of w×h pixels, all
// mid-grey (every coefficient 0), with the given scans; restart, if not
// 0, is the restart interval in blocks. Each block
// costs one bit in a DC scan; an AC scan codes its blocks as end-of-band
// runs of up to 32767 blocks (3 bytes), or 2 bits for a run of one.
func progressiveGrey(w, h int, scans []jpegScan, restart int) []byte {
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	var out []byte
	out = append(out, 0xff, 0xd8)                                                              // SOI
	out = append(out, jpegSegment(0xdb, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...))...) // DQT 0, all ones
	out = append(out, jpegSegment(0xc2, []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})...)
	// DC table 0: "0" codes category 0 (no change). AC table 0: "0" codes
	// an end-of-band run of 16384 plus 14 bits, "10" a run of one.
	dc := append(append([]byte{0x00, 1}, make([]byte, 15)...), 0x00)
	ac := append(append([]byte{0x10, 1, 1}, make([]byte, 14)...), 0xe0, 0x00)
	out = append(out, jpegSegment(0xc4, append(dc, ac...))...)
	if restart > 0 {
		out = append(out, jpegSegment(0xdd, []byte{byte(restart >> 8), byte(restart)})...)
	}
	var bits msbBits
	for _, s := range scans {
		out = append(out, jpegSegment(0xda, []byte{1, 1, 0x00, s.ss, s.se, s.ah<<4 | s.al})...)
		interval := blocks
		if restart > 0 {
			interval = restart
		}
		for first, rst := 0, 0; first < blocks; first, rst = first+interval, rst+1 {
			if first > 0 {
				out = append(out, bits.flush()...)
				out = append(out, 0xff, 0xd0+byte(rst-1)%8)
			}
			n := min(interval, blocks-first)
			if s.ss == 0 { // DC: a code (first scan) or a correction bit (refinement) per block
				for range n {
					bits.put(0, 1)
				}
				continue
			}
			for n >= 16384 {
				run := min(n, 32767)
				bits.put(0, 1)
				bits.put(uint32(run-16384), 14)
				n -= run
			}
			for range n {
				bits.put(0b10, 2)
			}
		}
		out = append(out, bits.flush()...)
	}
	return append(out, 0xff, 0xd9) // EOI
}

// repeatScans is a script of n AC scans after the DC scan.
func repeatScans(n int) []jpegScan {
	s := []jpegScan{{0, 0, 0, 0}}
	for range n - 1 {
		s = append(s, jpegScan{1, 63, 0, 0})
	}
	return s
}

// withFill puts 0xFF fill bytes before every marker after SOI that is not
// in a segment's data (the entropy-coded data here has none that could be
// mistaken: 0xFF is stuffed there).
func withFill(jpg []byte, markers ...byte) []byte {
	for _, m := range markers {
		jpg = bytes.ReplaceAll(jpg, []byte{0xff, m}, []byte{0xff, 0xff, 0xff, m})
	}
	return jpg
}

// afterSOI puts segments right after a JPEG's SOI.
func afterSOI(jpg []byte, segments ...[]byte) []byte {
	return append(append([]byte{0xff, 0xd8}, bytes.Join(segments, nil)...), jpg[2:]...)
}

// goJPEG is an image/jpeg baseline file of a noisy w×h picture.
func goJPEG(t *testing.T, w, h int) []byte {
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range im.Pix {
		im.Pix[i] = byte(r.Uint32())
	}
	return encode(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, im, &jpeg.Options{Quality: 90}) })
}

// scanParts splits a JPEG with one scan into what comes before its SOS,
// the scan (SOS and data) and EOI.
func scanParts(t *testing.T, jpg []byte) (head, scan []byte) {
	sos := bytes.Index(jpg, []byte{0xff, 0xda})
	if sos < 0 || !bytes.HasSuffix(jpg, []byte{0xff, 0xd9}) || bytes.Count(jpg[sos:], []byte{0xff, 0xda}) != 1 {
		t.Fatal("not a one-scan JPEG")
	}
	return jpg[:sos], jpg[sos : len(jpg)-2]
}

// image/jpeg walks every block of a progressive scan, however short the
// scan's data, and limits neither the scans nor the time; Decode counts
// the scans from the markers first and refuses more than maxJPEGScans.
func TestDecodeJPEGScans(t *testing.T) {
	baseline := goJPEG(t, 100, 60)
	head, scan := scanParts(t, baseline)
	thumb := progressiveGrey(16, 16, repeatScans(3*maxJPEGScans), 0)
	exif := jpegSegment(0xe1, append([]byte("Exif\x00\x00"), thumb...)) // a thumbnail's scans are not the image's
	app0 := jpegSegment(0xe0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
	comment := jpegSegment(0xfe, []byte("\xff\xda\xff\xda made by hand"))
	bomb := progressiveGrey(8*151, 8*217, repeatScans(800), 0) // 151×217 = 32767 blocks, 13 bytes a scan

	tests := []struct {
		name   string
		data   []byte
		scans  int // as counted from the markers
		w, h   int
		refuse bool
	}{
		{"image/jpeg baseline", baseline, 1, 100, 60, false},
		{"baseline with EXIF, APP0, comment, fill bytes", afterSOI(withFill(baseline, 0xda, 0xd9), exif, app0, comment), 1, 100, 60, false},
		{"baseline, another image after EOI", append(bytes.Clone(baseline), progressiveGrey(16, 16, repeatScans(3*maxJPEGScans), 0)...), 1, 100, 60, false},
		{"baseline, junk between segments", append(append(bytes.Clone(head), "junk\x00\xff\x00"...), baseline[len(head):]...), 1, 100, 60, false},
		{"progressive, libjpeg's script", progressiveGrey(64, 48, libjpegGrey, 0), 6, 64, 48, false},
		{"progressive with restarts, fill bytes, EXIF", afterSOI(withFill(progressiveGrey(64, 48, libjpegGrey, 5), 0xda, 0xd0, 0xd3, 0xd7, 0xd9), app0, exif, comment), 6, 64, 48, false},
		{fmt.Sprintf("progressive, %d scans", maxJPEGScans), progressiveGrey(64, 48, repeatScans(maxJPEGScans), 3), maxJPEGScans, 64, 48, false},

		{fmt.Sprintf("progressive, %d scans", maxJPEGScans+1), progressiveGrey(64, 48, repeatScans(maxJPEGScans+1), 0), maxJPEGScans + 1, 0, 0, true},
		{"EXIF's thumbnail alone", thumb, 3 * maxJPEGScans, 0, 0, true},
		{"progressive, 800 scans over 32767 blocks", bomb, 800, 0, 0, true},
		{"scans behind fill bytes and restarts", withFill(progressiveGrey(64, 48, repeatScans(maxJPEGScans+1), 1), 0xda, 0xd0), maxJPEGScans + 1, 0, 0, true},
		{fmt.Sprintf("baseline, its scan %d times", maxJPEGScans+1), append(append(bytes.Clone(head), bytes.Repeat(scan, maxJPEGScans+1)...), 0xff, 0xd9), maxJPEGScans + 1, 0, 0, true},
	}
	lim := Limits{MaxBytes: 10 << 20, MaxPixels: 4096 * 4096}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := jpegScans(tt.data, 1<<20); n != tt.scans {
				t.Errorf("jpegScans = %d, want %d", n, tt.scans)
			}
			img, err := Decode(tt.data, lim)
			if !tt.refuse {
				if err != nil || img.Width != tt.w || img.Height != tt.h {
					t.Fatalf("Decode = %dx%d, %v; want %dx%d", img.Width, img.Height, err, tt.w, tt.h)
				}
				return
			}
			if err == nil {
				t.Fatalf("a %d-byte JPEG was decoded (%dx%d)", len(tt.data), img.Width, img.Height)
			}
			e, ok := AsError(err)
			if !ok || e.Code != CodeInvalidImage || !strings.Contains(e.Message, fmt.Sprintf("more than %d scans", maxJPEGScans)) {
				t.Fatalf("err = %v, want %s for too many scans", err, CodeInvalidImage)
			}
		})
	}
}
