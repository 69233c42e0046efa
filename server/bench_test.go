package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkStreamOverhead measures what the HTTP layer costs per streamed
// token (JSON chunk, SSE framing, flush, client read) with a fake model
// that generates instantly.
func BenchmarkStreamOverhead(b *testing.B) {
	const tokens = 1000
	cat := newFakeCatalog()
	cat.models["tiny"].pieces = strings.Split(strings.Repeat("x", tokens), "")
	s, err := NewWithCatalog(Settings{}, cat, nil)
	if err != nil {
		b.Fatal(err)
	}
	url, _ := startOnB(b, s)
	body := `{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true}`
	b.ResetTimer()
	for range b.N {
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tokens), "ns/token")
}
