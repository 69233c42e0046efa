package images

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"golang.org/x/image/riff"
	"golang.org/x/image/vp8"
	"golang.org/x/image/vp8l"
)

// checkWebPFrame checks the size of the frame that webp.Decode will
// actually decode.
//
// webp.DecodeConfig, which Decode uses for every format's pixel check,
// reports the canvas of the VP8X chunk for an extended WebP. webp.Decode
// then decodes the first VP8 (lossy) or VP8L (lossless) chunk at the size
// in that chunk's own header, which x/image never compares with the
// canvas: a 46-byte file whose VP8X says 1×1 decodes to 16384×16384 (1 GiB
// of pixels). So this walks the chunks as webp.Decode does (it stops at the
// first VP8 or VP8L chunk), reads that frame's header with the same x/image
// packages, and refuses a frame over the pixel limit (image_too_large) or,
// in an extended file, one whose size is not the canvas (invalid_image).
//
// The frame equal to the canvas also bounds the ALPH chunk: webp.Decode
// decodes it at the canvas size, before the frame, and the canvas has
// passed the pixel check already. Animation frames (ANMF chunks) are
// skipped unread by webp.Decode, so an animated file decodes only if it
// also has a top-level frame, which is checked here like any other.
func checkWebPFrame(data []byte, lim Limits) error {
	w, h, canvasW, canvasH, err := webpFrameSize(data)
	if err != nil {
		return errorf(CodeInvalidImage, "The WebP image could not be read (corrupt or truncated): %v.", err)
	}
	if err := checkPixels(w, h, lim); err != nil {
		return err
	}
	if canvasW != 0 && (w != canvasW || h != canvasH) {
		return errorf(CodeInvalidImage, "The WebP image's frame is %dx%d but its canvas is %dx%d.", w, h, canvasW, canvasH)
	}
	return nil
}

// webpFrameSize returns the size in the header of the first VP8 or VP8L
// chunk, and the canvas of the VP8X chunk before it (0×0 when there is
// none: a simple WebP is its one frame).
func webpFrameSize(data []byte) (w, h, canvasW, canvasH int, err error) {
	formType, chunks, err := riff.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if formType != (riff.FourCC{'W', 'E', 'B', 'P'}) {
		return 0, 0, 0, 0, errors.New("not a WebP file")
	}
	for {
		id, n, chunk, err := chunks.Next()
		if err == io.EOF {
			return 0, 0, 0, 0, errors.New("no VP8 or VP8L image chunk")
		}
		if err != nil {
			return 0, 0, 0, 0, err
		}
		switch id {
		case riff.FourCC{'V', 'P', '8', 'X'}:
			if canvasW != 0 { // webp.Decode refuses a second one too
				return 0, 0, 0, 0, errors.New("two VP8X chunks")
			}
			var b [10]byte
			if n != 10 {
				return 0, 0, 0, 0, fmt.Errorf("VP8X chunk of %d bytes", n)
			}
			if _, err := io.ReadFull(chunk, b[:]); err != nil {
				return 0, 0, 0, 0, err
			}
			// 24-bit width-1 and height-1, little-endian.
			canvasW = (int(b[4]) | int(b[5])<<8 | int(b[6])<<16) + 1
			canvasH = (int(b[7]) | int(b[8])<<8 | int(b[9])<<16) + 1
		case riff.FourCC{'V', 'P', '8', ' '}:
			if int32(n) < 0 {
				return 0, 0, 0, 0, errors.New("VP8 chunk too long")
			}
			d := vp8.NewDecoder()
			d.Init(chunk, int(n))
			fh, err := d.DecodeFrameHeader()
			if err != nil {
				return 0, 0, 0, 0, err
			}
			if !fh.KeyFrame { // webp.Decode cannot decode it either
				return 0, 0, 0, 0, errors.New("the VP8 frame is not a key frame")
			}
			return fh.Width, fh.Height, canvasW, canvasH, nil
		case riff.FourCC{'V', 'P', '8', 'L'}:
			c, err := vp8l.DecodeConfig(chunk)
			if err != nil {
				return 0, 0, 0, 0, err
			}
			return c.Width, c.Height, canvasW, canvasH, nil
		}
	}
}
