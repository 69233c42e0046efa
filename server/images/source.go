package images

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ggufd/ggufd/engine"
)

// maxRedirects bounds a remote fetch's redirects (each to an allowed host).
const maxRedirects = 3

// Source reads images from URLs: data: URLs always; http(s) URLs only from
// the allowed hosts.
type Source struct {
	limits Limits
	hosts  []hostRule
	client *http.Client
}

// hostRule is one allow-list entry: "host" (any port), "host:port", or
// "*.domain" (any subdomain of domain, any port).
type hostRule struct {
	host     string // lower case, without brackets
	port     string // "" for any
	wildcard bool   // host is a domain whose subdomains match
}

func parseHostRule(h string) hostRule {
	h = strings.ToLower(h)
	var r hostRule
	if host, port, err := net.SplitHostPort(h); err == nil {
		h, r.port = host, port
	}
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		h, r.wildcard = rest, true
	}
	r.host = strings.Trim(h, "[]")
	return r
}

func (r hostRule) matches(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	if r.port != "" && u.Port() != r.port {
		return false
	}
	if r.wildcard {
		return strings.HasSuffix(host, "."+r.host)
	}
	return host == r.host
}

// NewSource builds a Source. hosts are the hosts http(s) URLs may name (see
// config.Images.RemoteHosts); timeout bounds one whole fetch.
func NewSource(lim Limits, hosts []string, timeout time.Duration) *Source {
	s := &Source{limits: lim}
	for _, h := range hosts {
		s.hosts = append(s.hosts, parseHostRule(h))
	}
	s.client = &http.Client{
		Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if !s.allowed(req.URL) {
				return fmt.Errorf("redirected to %s, which is not an allowed host", req.URL.Host)
			}
			return nil
		},
	}
	return s
}

// Load reads and decodes the image at rawURL.
func (s *Source) Load(ctx context.Context, rawURL string) (engine.Image, error) {
	data, err := s.read(ctx, rawURL)
	if err != nil {
		return engine.Image{}, err
	}
	return Decode(data, s.limits)
}

func (s *Source) read(ctx context.Context, rawURL string) ([]byte, error) {
	scheme, _, _ := strings.Cut(rawURL, ":")
	switch strings.ToLower(scheme) {
	case "data":
		return s.readDataURL(rawURL)
	case "http", "https":
		return s.fetch(ctx, rawURL)
	}
	return nil, errorf(CodeInvalidURL, "The image URL must be a data: URL (data:image/png;base64,...) or an http(s) URL.")
}

// readDataURL decodes data:[<media type>];base64,<data>. The media type is
// not trusted: the format is recognised from the bytes.
func (s *Source) readDataURL(u string) ([]byte, error) {
	head, payload, ok := strings.Cut(u[len("data:"):], ",")
	if !ok {
		return nil, errorf(CodeInvalidURL, "The data: URL has no comma before its data.")
	}
	if !strings.HasSuffix(strings.ToLower(head), ";base64") {
		return nil, errorf(CodeInvalidURL, "The data: URL must be base64-encoded (data:image/png;base64,...).")
	}
	if s.limits.MaxBytes > 0 && int64(base64.StdEncoding.DecodedLen(len(payload))) > s.limits.MaxBytes+3 {
		return nil, errorf(CodeTooLarge, "The image is about %d bytes, more than the limit of %d bytes.",
			base64.StdEncoding.DecodedLen(len(payload)), s.limits.MaxBytes)
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		// Some clients leave out the padding.
		if raw, rerr := base64.RawStdEncoding.DecodeString(strings.TrimRight(payload, "=")); rerr == nil {
			return raw, nil
		}
		return nil, errorf(CodeInvalidURL, "The data: URL's base64 is invalid: %v.", err)
	}
	return data, nil
}

// allowed reports whether u's host is on the allow-list.
func (s *Source) allowed(u *url.URL) bool {
	for _, r := range s.hosts {
		if r.matches(u) {
			return true
		}
	}
	return false
}

func (s *Source) fetch(ctx context.Context, rawURL string) ([]byte, error) {
	if len(s.hosts) == 0 {
		return nil, errorf(CodeRemoteRefused, "This server does not fetch images from http(s) URLs: send the image inline as a data: URL "+
			"(data:image/png;base64,...). An operator can allow intranet hosts with images.remote_hosts in the configuration.")
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, errorf(CodeInvalidURL, "The image URL is not a valid URL.")
	}
	if !s.allowed(u) {
		return nil, errorf(CodeRemoteRefused, "The host %q is not in this server's images.remote_hosts; send the image inline as a data: URL.", u.Host)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errorf(CodeInvalidURL, "The image URL is not a valid URL.")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, errorf(CodeFetchFailed, "Fetching the image from %s failed: %s.", u.Host, fetchReason(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errorf(CodeFetchFailed, "Fetching the image from %s failed: HTTP %d.", u.Host, resp.StatusCode)
	}
	if s.limits.MaxBytes > 0 && resp.ContentLength > s.limits.MaxBytes {
		return nil, errorf(CodeTooLarge, "The image is %d bytes, more than the limit of %d bytes.", resp.ContentLength, s.limits.MaxBytes)
	}
	r := io.Reader(resp.Body)
	if s.limits.MaxBytes > 0 {
		r = io.LimitReader(resp.Body, s.limits.MaxBytes+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, errorf(CodeFetchFailed, "Fetching the image from %s failed: %s.", u.Host, fetchReason(err))
	}
	if s.limits.MaxBytes > 0 && int64(len(data)) > s.limits.MaxBytes {
		return nil, errorf(CodeTooLarge, "The image is more than the limit of %d bytes.", s.limits.MaxBytes)
	}
	return data, nil
}

// fetchReason words a fetch error without the URL (which may carry tokens).
func fetchReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "it timed out"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
