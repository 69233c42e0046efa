package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat *string         `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           *string         `json:"user"`
}

type embeddingList struct {
	Object string          `json:"object"`
	Data   []embeddingData `json:"data"`
	Model  string          `json:"model"`
	Usage  embeddingUsage  `json:"usage"`
}

type embeddingData struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string
}

type embeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

func (s *Server) embeddings(c echo.Context, r *request) error {
	var req embeddingRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	r.user = pick(req.User, nil, "")
	var err error
	if r.model, err = s.lookup(r, req.Model); err != nil {
		return err
	}
	if !r.model.Embeddings {
		return apierror.InvalidParam("model", "The model `%s` is not an embedding model; configure one with embeddings: true.", r.model.Name)
	}
	base64Out := false
	if req.EncodingFormat != nil {
		switch *req.EncodingFormat {
		case "float":
		case "base64":
			base64Out = true
		default:
			return apierror.InvalidParam("encoding_format", "Invalid 'encoding_format': %q; expected 'float' or 'base64'.", *req.EncodingFormat)
		}
	}
	inputs, err := parsePrompts(req.Input, "input")
	if err != nil {
		return err
	}
	if len(inputs) > maxEmbeddingInputs {
		return apierror.InvalidParam("input", "Invalid 'input': at most %d inputs per request, got %d.", maxEmbeddingInputs, len(inputs))
	}
	if err := s.checkPromptSize("input", textSize(inputs)); err != nil {
		return err
	}
	var ereq engine.EmbedRequest
	for i, in := range inputs {
		if in.tokens != nil {
			ereq.Tokens = append(ereq.Tokens, in.tokens)
		} else if in.text == "" {
			return apierror.InvalidParam("input", "Invalid 'input': input %d is an empty string.", i)
		} else {
			ereq.Texts = append(ereq.Texts, in.text)
		}
	}
	if ereq.Texts != nil && ereq.Tokens != nil {
		return apierror.InvalidParam("input", "Invalid 'input': mixing text and token inputs is not supported.")
	}
	return s.serve(c, r, job{run: func(ctx context.Context, m Model) (result, error) {
		res, err := m.Embed(ctx, ereq)
		if err != nil {
			return result{}, blamePrompt(err, "input")
		}
		u := engine.Usage{PromptTokens: res.PromptTokens, PromptDuration: res.Duration, ComputeDuration: res.Duration}
		if req.Dimensions != nil && len(res.Vectors) > 0 && *req.Dimensions != len(res.Vectors[0]) {
			return result{usage: u}, apierror.InvalidParam("dimensions", "Invalid 'dimensions': this model's embeddings have %d dimensions.", len(res.Vectors[0]))
		}
		out := embeddingList{Object: "list", Model: r.model.Name, Data: make([]embeddingData, len(res.Vectors)),
			Usage: embeddingUsage{PromptTokens: res.PromptTokens, TotalTokens: res.PromptTokens}}
		for i, v := range res.Vectors {
			var emb any = v
			if base64Out {
				emb = encodeFloats(v)
			}
			out.Data[i] = embeddingData{Object: "embedding", Index: i, Embedding: emb}
		}
		return answerJSON(c, u, out), nil
	}})
}

// encodeFloats is OpenAI's base64 format: little-endian float32s.
func encodeFloats(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}
