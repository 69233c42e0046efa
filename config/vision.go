package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ggufd/ggufd/engine/gguf"
)

// Images limits image input: the image_url parts of chat messages sent to
// vision models (models with a projector).
type Images struct {
	// MaxBytes caps one image as sent (after base64 decoding, or as
	// fetched).
	MaxBytes ByteSize `yaml:"max_bytes"`
	// MaxPixels caps width × height of one image; it bounds the memory a
	// decoded image takes (3 bytes a pixel) whatever its compression.
	MaxPixels int64 `yaml:"max_pixels"`
	// MaxPerRequest caps the images of one request, over all its messages.
	MaxPerRequest int `yaml:"max_per_request"`
	// RemoteHosts lists the hosts that http(s) image URLs may name:
	// "host", "host:port" or "*.domain" (any subdomain). Empty, the
	// default, allows data: URLs only, as an air-gapped server should.
	RemoteHosts []string `yaml:"remote_hosts"`
	// FetchTimeout bounds one fetch from a remote host, body included.
	FetchTimeout Duration `yaml:"fetch_timeout"`
}

// Image input defaults.
const (
	DefaultImageMaxBytes      = ByteSize(10 << 20)
	DefaultImageMaxPixels     = 4096 * 4096
	DefaultImageMaxPerRequest = 8
	DefaultImageFetchTimeout  = Duration(10 * time.Second)
)

// DefaultImages returns the default limits.
func DefaultImages() Images {
	return Images{
		MaxBytes:      DefaultImageMaxBytes,
		MaxPixels:     DefaultImageMaxPixels,
		MaxPerRequest: DefaultImageMaxPerRequest,
		FetchTimeout:  DefaultImageFetchTimeout,
	}
}

// NoProjector as a model's mmproj turns the naming convention off: the model
// is served text-only even with a projector file beside it.
const NoProjector = "none"

// ProjectorFile is the vision projector m loads with, "" for none: mmproj as
// set (Parse resolves it), or else the first existing file the naming
// convention names beside the model file — NAME.mmproj.gguf, then
// mmproj-NAME.gguf for NAME.gguf. Embedding models take none.
func (m Model) ProjectorFile() string {
	switch {
	case m.MMProj == NoProjector || m.Embeddings:
		return ""
	case m.MMProj != "":
		return m.MMProj
	}
	for _, p := range gguf.ProjectorCandidates(m.File) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// projector resolves and checks a model's mmproj setting.
func (p *parser) projector(c *Config, m *Model, f string) {
	if m.MMProj == "" || m.MMProj == NoProjector {
		return
	}
	if m.Embeddings {
		p.fieldErr(f+".mmproj", "an embedding model takes no projector")
		return
	}
	if !filepath.IsAbs(m.MMProj) {
		m.MMProj = filepath.Join(c.ModelsDir, m.MMProj)
	}
	m.MMProj = filepath.Clean(m.MMProj)
	st, err := os.Stat(m.MMProj)
	switch {
	case errors.Is(err, os.ErrNotExist):
		p.fieldErr(f+".mmproj", "projector file %s does not exist", m.MMProj)
	case err != nil:
		p.fieldErr(f+".mmproj", "%v", err)
	case !st.Mode().IsRegular():
		p.fieldErr(f+".mmproj", "%s is not a regular file", m.MMProj)
	}
}

// images checks the image limits.
func (p *parser) images(im Images) {
	if im.MaxBytes < 1024 {
		p.fieldErr("images.max_bytes", "must be at least 1KiB, got %s", im.MaxBytes)
	}
	if im.MaxPixels < 1 {
		p.fieldErr("images.max_pixels", "must be at least 1, got %d", im.MaxPixels)
	}
	if im.MaxPerRequest < 1 {
		p.fieldErr("images.max_per_request", "must be at least 1, got %d", im.MaxPerRequest)
	}
	if im.FetchTimeout <= 0 {
		p.fieldErr("images.fetch_timeout", "must be positive, got %s", im.FetchTimeout)
	}
	for i, h := range im.RemoteHosts {
		if err := checkRemoteHost(h); err != nil {
			p.fieldErr(fmt.Sprintf("images.remote_hosts[%d]", i), "%v", err)
		}
	}
}

// checkRemoteHost accepts "host", "host:port" and "*.domain".
func checkRemoteHost(h string) error {
	if strings.Contains(h, "://") || strings.ContainsAny(h, "/?#@ ") {
		return fmt.Errorf("%q: want a host name (e.g. images.intranet or *.intranet), not a URL", h)
	}
	host := h
	if hp, port, err := net.SplitHostPort(h); err == nil {
		if port == "" {
			return fmt.Errorf("%q: empty port", h)
		}
		host = hp
	}
	host = strings.TrimPrefix(host, "*.")
	if host == "" || strings.Contains(host, "*") {
		return fmt.Errorf("%q: want a host name, or *. followed by a domain", h)
	}
	return nil
}
