package images

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pattern is the picture in testdata/*.webp (made with cwebp 1.2.4 from a
// PNG of this pattern: -lossless -exact, and -q 90).
func pattern(x, y int) color.NRGBA {
	return color.NRGBA{R: uint8(x * 20), G: uint8(y * 30), B: uint8((x + y) * 10), A: 255}
}

func patternImage(w, h int, alpha uint8) *image.NRGBA {
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := pattern(x, y)
			c.A = alpha
			im.SetNRGBA(x, y, c)
		}
	}
	return im
}

func encode(t *testing.T, enc func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pngOf(t *testing.T, im image.Image) []byte {
	return encode(t, func(b *bytes.Buffer) error { return png.Encode(b, im) })
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var noLimits = Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}

func TestDecodeFormats(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(40 * i)
	}
	// A GIF with two frames: the first is the pattern (quantised to the
	// web palette), the second all black.
	first := image.NewPaletted(image.Rect(0, 0, 12, 8), palette.WebSafe)
	second := image.NewPaletted(image.Rect(0, 0, 12, 8), palette.WebSafe)
	for y := range 8 {
		for x := range 12 {
			first.Set(x, y, pattern(x, y))
		}
	}
	anim := encode(t, func(b *bytes.Buffer) error {
		return gif.EncodeAll(b, &gif.GIF{Image: []*image.Paletted{first, second}, Delay: []int{10, 10}})
	})
	tests := []struct {
		name string
		data []byte
		w, h int
		want func(x, y int) color.NRGBA
		tol  int // mean difference per channel allowed (lossy formats); 0: exact
	}{
		{"png", pngOf(t, patternImage(12, 8, 255)), 12, 8, pattern, 0},
		{"png with alpha keeps each pixel's colour", pngOf(t, patternImage(12, 8, 128)), 12, 8, pattern, 0},
		{"gray png", pngOf(t, gray), 3, 2, func(x, y int) color.NRGBA {
			v := gray.GrayAt(x, y).Y
			return color.NRGBA{v, v, v, 255}
		}, 0},
		{"jpeg", encode(t, func(b *bytes.Buffer) error {
			return jpeg.Encode(b, patternImage(12, 8, 255), &jpeg.Options{Quality: 100})
		}), 12, 8, pattern, 8},
		{"gif: first frame", anim, 12, 8, func(x, y int) color.NRGBA {
			return color.NRGBAModel.Convert(first.At(x, y)).(color.NRGBA)
		}, 0},
		{"webp lossless", testdata(t, "lossless.webp"), 12, 8, pattern, 0},
		{"webp lossy", testdata(t, "lossy.webp"), 12, 8, pattern, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Decode(tt.data, noLimits)
			if err != nil {
				t.Fatal(err)
			}
			if img.Width != tt.w || img.Height != tt.h || len(img.RGB) != tt.w*tt.h*3 {
				t.Fatalf("decoded %dx%d with %d bytes, want %dx%d", img.Width, img.Height, len(img.RGB), tt.w, tt.h)
			}
			diff := 0
			for y := range tt.h {
				for x := range tt.w {
					want := tt.want(x, y)
					got := img.RGB[(y*tt.w+x)*3:]
					for c, w := range []uint8{want.R, want.G, want.B} {
						d := int(got[c]) - int(w)
						if tt.tol == 0 && d != 0 {
							t.Fatalf("pixel (%d,%d) channel %d = %d, want %d", x, y, c, got[c], w)
						}
						diff += max(d, -d)
					}
				}
			}
			if mean := float64(diff) / float64(len(img.RGB)); mean > float64(tt.tol) {
				t.Errorf("mean difference per channel %.1f, want at most %d", mean, tt.tol)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good := pngOf(t, patternImage(12, 8, 255))
	jpg := encode(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, patternImage(64, 64, 255), nil) })
	// A PNG header claiming 5000×5000 pixels: refused from the header,
	// before any pixel memory is allocated.
	huge := pngOf(t, image.NewGray(image.Rect(0, 0, 5000, 5000)))
	tests := []struct {
		name string
		data []byte
		lim  Limits
		code string
		msg  string
	}{
		{"empty", nil, noLimits, CodeInvalidImage, "empty"},
		{"truncated png", good[:len(good)/2], noLimits, CodeInvalidImage, "PNG image could not be decoded"},
		{"truncated png header", good[:20], noLimits, CodeInvalidImage, "PNG image could not be read"},
		{"truncated jpeg", jpg[:len(jpg)*2/3], noLimits, CodeInvalidImage, "JPEG image could not be decoded"},
		{"corrupt png", append(append([]byte{}, good[:40]...), bytes.Repeat([]byte{0xAB}, 60)...), noLimits, CodeInvalidImage, "PNG"},
		{"bmp", []byte("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), noLimits, CodeUnsupportedFormat, "BMP is not supported; send PNG, JPEG, WebP or GIF"},
		{"tiff", []byte("II*\x00\x08\x00\x00\x00"), noLimits, CodeUnsupportedFormat, "TIFF"},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), noLimits, CodeUnsupportedFormat, "SVG"},
		{"text", []byte("hello, world"), noLimits, CodeUnsupportedFormat, "This image format is not supported"},
		{"too many pixels", huge, Limits{MaxBytes: 1 << 20, MaxPixels: 4096 * 4096}, CodeTooLarge, "5000x5000 = 25000000 pixels, more than the limit of 16777216"},
		{"too many bytes", good, Limits{MaxBytes: 50, MaxPixels: 1 << 20}, CodeTooLarge, "more than the limit of 50 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, tt.lim)
			e, ok := AsError(err)
			if !ok || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("err = %v (%T), want code %s with %q", err, err, tt.code, tt.msg)
			}
		})
	}
}

func dataURL(mediaType string, data []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(data)
}

func TestLoadDataURL(t *testing.T) {
	good := pngOf(t, patternImage(12, 8, 255))
	src := NewSource(Limits{MaxBytes: int64(len(good)), MaxPixels: 1 << 20}, nil, time.Second)
	tests := []struct {
		name string
		url  string
		code string // "" for success
	}{
		{"png", dataURL("image/png", good), ""},
		{"media type is not trusted", dataURL("image/jpeg", good), ""},
		{"no padding", strings.TrimRight(dataURL("image/png", good), "="), ""},
		{"not base64", "data:image/png," + url.PathEscape(string(good)), CodeInvalidURL},
		{"no comma", "data:image/png;base64", CodeInvalidURL},
		{"bad base64", "data:image/png;base64,!!!!", CodeInvalidURL},
		{"too large", dataURL("image/png", append(good, make([]byte, 64)...)), CodeTooLarge},
		{"other scheme", "file:///etc/passwd", CodeInvalidURL},
		{"no scheme", "cat.png", CodeInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := src.Load(context.Background(), tt.url)
			if tt.code == "" {
				if err != nil || img.Width != 12 || img.Height != 8 {
					t.Fatalf("Load = %dx%d, %v", img.Width, img.Height, err)
				}
				return
			}
			if e, ok := AsError(err); !ok || e.Code != tt.code {
				t.Fatalf("err = %v, want code %s", err, tt.code)
			}
		})
	}
}

func TestLoadRemote(t *testing.T) {
	good := pngOf(t, patternImage(12, 8, 255))
	mux := http.NewServeMux()
	mux.HandleFunc("/cat.png", func(w http.ResponseWriter, _ *http.Request) { w.Write(good) })
	mux.HandleFunc("/big.png", func(w http.ResponseWriter, _ *http.Request) { w.Write(make([]byte, 4096)) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.example/cat.png", http.StatusFound)
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/cat.png", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	lim := Limits{MaxBytes: 1024, MaxPixels: 1 << 20}

	tests := []struct {
		name  string
		hosts []string
		path  string
		code  string
		msg   string
	}{
		{"refused by default", nil, "/cat.png", CodeRemoteRefused, "images.remote_hosts"},
		{"allowed host", []string{"127.0.0.1"}, "/cat.png", "", ""},
		{"allowed host and port", []string{base.Host}, "/cat.png", "", ""},
		{"other port", []string{"127.0.0.1:1"}, "/cat.png", CodeRemoteRefused, "is not in this server's images.remote_hosts"},
		{"other host", []string{"images.lan", "*.lan"}, "/cat.png", CodeRemoteRefused, "is not in"},
		{"redirect on the host", []string{"127.0.0.1"}, "/here", "", ""},
		{"redirect away", []string{"127.0.0.1"}, "/away", CodeFetchFailed, "not an allowed host"},
		{"not found", []string{"127.0.0.1"}, "/nope.png", CodeFetchFailed, "HTTP 404"},
		{"too large", []string{"127.0.0.1"}, "/big.png", CodeTooLarge, "limit of 1024 bytes"},
		{"timeout", []string{"127.0.0.1"}, "/slow", CodeFetchFailed, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := NewSource(lim, tt.hosts, 200*time.Millisecond)
			img, err := src.Load(context.Background(), srv.URL+tt.path)
			if tt.code == "" {
				if err != nil || img.Width != 12 {
					t.Fatalf("Load = %v", err)
				}
				return
			}
			if e, ok := AsError(err); !ok || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("err = %v, want code %s with %q", err, tt.code, tt.msg)
			}
		})
	}
}

func TestHostRules(t *testing.T) {
	tests := []struct {
		rule, url string
		want      bool
	}{
		{"img.lan", "http://img.lan/a.png", true},
		{"img.lan", "https://IMG.LAN:8443/a.png", true},
		{"img.lan", "http://evil.img.lan.example/a.png", false},
		{"img.lan:8080", "http://img.lan:8080/a", true},
		{"img.lan:8080", "http://img.lan/a", false},
		{"*.corp", "http://a.b.corp/x", true},
		{"*.corp", "http://corp/x", false},
		{"*.corp", "http://evilcorp/x", false},
		{"[::1]:9000", "http://[::1]:9000/x", true},
		{"::1", "http://[::1]:9000/x", true},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := parseHostRule(tt.rule).matches(u); got != tt.want {
			t.Errorf("rule %q on %s = %v, want %v", tt.rule, tt.url, got, tt.want)
		}
	}
}
