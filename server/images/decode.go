// Package images turns the image_url parts of chat requests into decoded
// RGB bitmaps for the engine: it reads data: URLs (and, when allowed,
// fetches http(s) URLs), recognises the format, checks the limits and
// decodes in Go, so that llama.cpp never parses an untrusted file.
package images

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"

	"github.com/ggufd/ggufd/engine"
)

// Error codes, as the API reports them.
const (
	CodeInvalidURL        = "invalid_image_url"
	CodeRemoteRefused     = "image_url_not_allowed"
	CodeFetchFailed       = "image_fetch_failed"
	CodeTooLarge          = "image_too_large"
	CodeUnsupportedFormat = "unsupported_image_format"
	CodeInvalidImage      = "invalid_image"
)

// Error is an image the request cannot use; Message says why, for the
// client.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Limits bound one image.
type Limits struct {
	MaxBytes  int64 // the file as sent
	MaxPixels int64 // width × height
}

// format is an image file format this package decodes.
type format struct {
	name   string
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
	// check, if set, refuses (with an *Error) a file whose decoding would
	// cost more than its header's size says; it runs after the pixel
	// check of config's size, before decode.
	check func(data []byte, lim Limits) error
}

var (
	formatPNG  = format{"PNG", png.DecodeConfig, png.Decode, nil}
	formatJPEG = format{"JPEG", jpeg.DecodeConfig, jpeg.Decode, checkJPEGScans}
	formatGIF  = format{"GIF", gif.DecodeConfig, gif.Decode, nil} // the first frame
	formatWebP = format{"WebP", webp.DecodeConfig, webp.Decode, checkWebPFrame}
)

// sniff recognises a format by its first bytes. For formats it cannot
// decode it returns their name, so the client learns what it sent.
func sniff(b []byte) (*format, string) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return &formatPNG, ""
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return &formatJPEG, ""
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return &formatGIF, ""
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return &formatWebP, ""
	case bytes.HasPrefix(b, []byte("BM")):
		return nil, "BMP"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return nil, "TIFF"
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return nil, "HEIF/AVIF"
	case bytes.HasPrefix(bytes.TrimSpace(b), []byte("<")):
		return nil, "SVG or other markup"
	}
	return nil, ""
}

// Decode checks and decodes one image file into the engine's RGB bitmap.
// The pixel count is checked from the header before anything is
// allocated for the pixels.
func Decode(data []byte, lim Limits) (engine.Image, error) {
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return engine.Image{}, errorf(CodeTooLarge, "The image is %d bytes, more than the limit of %d bytes.", len(data), lim.MaxBytes)
	}
	if len(data) == 0 {
		return engine.Image{}, errorf(CodeInvalidImage, "The image is empty.")
	}
	f, other := sniff(data)
	if f == nil {
		what := "This image format"
		if other != "" {
			what = other
		}
		return engine.Image{}, errorf(CodeUnsupportedFormat, "%s is not supported; send PNG, JPEG, WebP or GIF.", what)
	}
	cfg, err := f.config(bytes.NewReader(data))
	if err != nil {
		return engine.Image{}, errorf(CodeInvalidImage, "The %s image could not be read (corrupt or truncated): %v.", f.name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return engine.Image{}, errorf(CodeInvalidImage, "The %s image has no pixels (%dx%d).", f.name, cfg.Width, cfg.Height)
	}
	if err := checkPixels(cfg.Width, cfg.Height, lim); err != nil {
		return engine.Image{}, err
	}
	if f.check != nil {
		if err := f.check(data, lim); err != nil {
			return engine.Image{}, err
		}
	}
	img, err := f.decode(bytes.NewReader(data))
	if err != nil {
		return engine.Image{}, errorf(CodeInvalidImage, "The %s image could not be decoded (corrupt or truncated): %v.", f.name, err)
	}
	// The checks above should make this impossible; it keeps a decoder
	// that allocates more than its header said (as webp.Decode did) from
	// also costing the RGB copy and reaching the engine.
	if b := img.Bounds(); checkPixels(b.Dx(), b.Dy(), lim) != nil {
		return engine.Image{}, errorf(CodeTooLarge, "The %s image decoded to %dx%d pixels, more than its header said and than the limit of %d pixels.", f.name, b.Dx(), b.Dy(), lim.MaxPixels)
	}
	return toRGB(img), nil
}

// checkPixels refuses a w×h image over lim.MaxPixels.
func checkPixels(w, h int, lim Limits) *Error {
	if px := int64(w) * int64(h); lim.MaxPixels > 0 && px > lim.MaxPixels {
		return errorf(CodeTooLarge, "The image is %dx%d = %d pixels, more than the limit of %d pixels.", w, h, px, lim.MaxPixels)
	}
	return nil
}

// toRGB flattens any decoded image to 8-bit RGB. Alpha is dropped, leaving
// each pixel's own colour (as llama.cpp's own image loader does).
func toRGB(img image.Image) engine.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := engine.Image{Width: w, Height: h, RGB: make([]byte, 0, w*h*3)}
	switch im := img.(type) {
	case *image.YCbCr: // JPEG
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := im.YOffset(x, y), im.COffset(x, y)
				r, g, bl := color.YCbCrToRGB(im.Y[yi], im.Cb[ci], im.Cr[ci])
				out.RGB = append(out.RGB, r, g, bl)
			}
		}
	case *image.NRGBA: // PNG with alpha, WebP lossless
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := im.Pix[im.PixOffset(b.Min.X, y):im.PixOffset(b.Max.X, y)]
			for i := 0; i < len(row); i += 4 {
				out.RGB = append(out.RGB, row[i], row[i+1], row[i+2])
			}
		}
	case *image.Paletted: // GIF, palette PNG
		pal := make([][3]byte, len(im.Palette))
		for i, c := range im.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]byte{n.R, n.G, n.B}
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for _, ix := range im.Pix[im.PixOffset(b.Min.X, y):im.PixOffset(b.Max.X, y)] {
				var c [3]byte
				if int(ix) < len(pal) {
					c = pal[ix]
				}
				out.RGB = append(out.RGB, c[0], c[1], c[2])
			}
		}
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for _, v := range im.Pix[im.PixOffset(b.Min.X, y):im.PixOffset(b.Max.X, y)] {
				out.RGB = append(out.RGB, v, v, v)
			}
		}
	default: // RGBA (premultiplied), 16-bit, CMYK...
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				n := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				out.RGB = append(out.RGB, n.R, n.G, n.B)
			}
		}
	}
	return out
}

// AsError returns err as an *Error if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
