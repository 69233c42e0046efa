package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/apierror"
	"github.com/ggufd/ggufd/server/images"
)

// imageRef is one image_url part of a chat request: where it is (for
// errors) and its URL.
type imageRef struct {
	param, url string
}

// imageTokenEstimate stands for one image in the gatekeeper's estimate of
// a prompt's size, made before the projector counts the image's tokens
// (576 for LLaVA 1.5, 256 for Gemma 3, up to 2880 for LLaVA 1.6): the
// ledger bills the real count.
const imageTokenEstimate = 1024

// promptBytes bounds a chat prompt's size in bytes for the gatekeeper
// (which reckons four bytes a token) when the body holds images: their
// base64 says nothing of their tokens, and a photo would otherwise count as
// a million. 0 (no images, or an unknown length): the body's length.
func promptBytes(contentLength int64, refs []imageRef) int64 {
	if len(refs) == 0 || contentLength <= 0 {
		return 0
	}
	n := contentLength
	for _, r := range refs {
		n += 4*imageTokenEstimate - int64(len(r.url))
	}
	return max(n, 1)
}

// imageSettings fills the image limits the settings leave at zero.
func imageSettings(im config.Images) config.Images {
	def := config.DefaultImages()
	if im.MaxBytes == 0 {
		im.MaxBytes = def.MaxBytes
	}
	if im.MaxPixels == 0 {
		im.MaxPixels = def.MaxPixels
	}
	if im.MaxPerRequest == 0 {
		im.MaxPerRequest = def.MaxPerRequest
	}
	if im.FetchTimeout == 0 {
		im.FetchTimeout = def.FetchTimeout
	}
	return im
}

func newImageSource(im config.Images) *images.Source {
	return images.NewSource(images.Limits{MaxBytes: int64(im.MaxBytes), MaxPixels: im.MaxPixels}, im.RemoteHosts, im.FetchTimeout.Std())
}

// loadImages reads and decodes the images of a chat request for the model
// in info, before the request is admitted: a bad image costs the client
// nothing and the model no slot. Decoded images live only as long as the
// request; they are never logged or stored.
func (s *Server) loadImages(ctx context.Context, e models.Entry, tmpl engine.ChatRequest, refs []imageRef) ([]engine.Image, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	if e.Projector == "" {
		return nil, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "unsupported_content", refs[0].param,
			"The model `%s` does not take images: it has no vision projector. Send text only, or use a vision model.", e.Name)
	}
	if limit := s.settings.Images.MaxPerRequest; len(refs) > limit {
		return nil, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "too_many_images", "messages",
			"The request has %d images; this server takes at most %d per request.", len(refs), limit)
	}
	marker := engine.ImageMarker()
	markers := 0
	for _, m := range tmpl.Messages {
		if text, ok := m["content"].(string); ok {
			markers += strings.Count(text, marker)
		}
	}
	if markers > len(refs) {
		return nil, apierror.InvalidParam("messages",
			"The text of the messages contains %q, which marks where images go in the prompt; remove it.", marker)
	}
	out := make([]engine.Image, len(refs))
	for i, ref := range refs {
		img, err := s.images.Load(ctx, ref.url)
		if e, ok := images.AsError(err); ok {
			return nil, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, e.Code, ref.param, "Invalid '%s': %s", ref.param, e.Message)
		}
		if err != nil {
			return nil, err
		}
		out[i] = img
	}
	return out, nil
}
