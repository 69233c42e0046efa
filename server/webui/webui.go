// Package webui is ggufd's built-in test page: GET / serves a page that
// lists the models, chats with streaming, attaches images for vision models,
// stops a reply and shows its tokens, speed and cost. Every asset is embedded
// in the binary (no CDN: ggufd runs air-gapped) and the page calls only the
// public API of the origin that served it, with the caller's own key.
//
// The package also renders the account page (/api_user/info without
// type=json) in the same style and languages.
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

//go:embed static templates
var files embed.FS

// AssetPrefix is where the page's scripts, styles and strings are served.
const AssetPrefix = "/webui/"

// pageCSP allows the page its own scripts and styles only, images from data:
// URLs (attachments are previewed before upload) and calls to its origin;
// no inline script can run even if a model's name or reply were mistaken
// for markup.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	etag        string
	contentType string
}

// assets maps a path under static/ to its file; built once at start-up.
var assets = mustLoadAssets()

func mustLoadAssets() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		out[strings.TrimPrefix(p, "static/")] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, contentType: ct}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("webui: embedded assets: %v", err))
	}
	return out
}

// Register mounts the test page at / and its assets under AssetPrefix. The
// routes need no key: the page holds no data, and every API call it makes
// carries the key the user types in.
func Register(e *echo.Echo) {
	for _, p := range []string{"/", "/index.html"} {
		e.GET(p, func(c echo.Context) error { return serve(c, "index.html") })
	}
	e.GET(AssetPrefix+"*", func(c echo.Context) error {
		name := c.Param("*")
		if name == "index.html" {
			return echo.ErrNotFound // the page itself lives at /
		}
		return serve(c, name)
	})
}

// serve answers with an embedded file. Assets are revalidated on each load
// (ETag, then 304): after an upgrade the page and its script never mix
// versions, and a reload costs one small round trip per file.
func serve(c echo.Context, name string) error {
	a, ok := assets[name]
	if !ok {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, a.contentType)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if name == "index.html" {
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Frame-Options", "DENY")
	}
	// ServeContent answers If-None-Match with 304, HEAD and ranges.
	http.ServeContent(c.Response(), c.Request(), name, time.Time{}, bytes.NewReader(a.body))
	return nil
}
