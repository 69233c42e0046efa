package server

import (
	"context"
	"encoding/json"
	"unicode/utf8"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

// llama-server's utility endpoints: /tokenize, /detokenize, /apply-template.

type tokenizeRequest struct {
	Model        string  `json:"model"`
	Content      *string `json:"content"`
	AddSpecial   *bool   `json:"add_special"`
	ParseSpecial *bool   `json:"parse_special"`
	WithPieces   *bool   `json:"with_pieces"`
}

// tokenPiece is a token with its text; the piece is a string when it is
// valid UTF-8 and a byte array otherwise, as llama-server sends it.
type tokenPiece struct {
	ID    int `json:"id"`
	Piece any `json:"piece"`
}

type detokenizeRequest struct {
	Model  string `json:"model"`
	Tokens []int  `json:"tokens"`
}

type applyTemplateRequest struct {
	Model               string                     `json:"model"`
	Messages            []wireMessage              `json:"messages"`
	Tools               json.RawMessage            `json:"tools"`
	ToolChoice          json.RawMessage            `json:"tool_choice"`
	AddGenerationPrompt *bool                      `json:"add_generation_prompt"`
	ChatTemplateKwargs  map[string]json.RawMessage `json:"chat_template_kwargs"`
}

// utility serves a short utility call: fn's answer about the model the
// request names.
func (s *Server) utility(c echo.Context, r *request, bodyModel string, fn func(m Model) (any, error)) error {
	var err error
	if r.model, err = s.lookup(r, bodyModel); err != nil {
		return err
	}
	return s.serve(c, r, job{run: func(_ context.Context, m Model) (result, error) {
		body, err := fn(m)
		if err != nil {
			return result{}, err
		}
		return answerJSON(c, engine.Usage{}, body), nil
	}})
}

func (s *Server) tokenize(c echo.Context, r *request) error {
	var req tokenizeRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Content == nil {
		return apierror.InvalidParam("content", "Missing required parameter: 'content'.")
	}
	if err := s.checkPromptSize("content", len(*req.Content)); err != nil {
		return err
	}
	return s.utility(c, r, req.Model, func(m Model) (any, error) {
		toks, err := m.Tokenize(*req.Content, pick(req.AddSpecial, nil, false), pick(req.ParseSpecial, nil, true))
		if err != nil {
			return nil, err
		}
		if req.WithPieces == nil || !*req.WithPieces {
			if toks == nil {
				toks = []int{}
			}
			return map[string]any{"tokens": toks}, nil
		}
		pieces := make([]tokenPiece, len(toks))
		for i, t := range toks {
			text, err := m.Detokenize([]int{t})
			if err != nil {
				return nil, err
			}
			var piece any = text
			if !utf8.ValidString(text) {
				piece = bytesJSON([]byte(text))
			}
			pieces[i] = tokenPiece{ID: t, Piece: piece}
		}
		return map[string]any{"tokens": pieces}, nil
	})
}

func (s *Server) detokenize(c echo.Context, r *request) error {
	var req detokenizeRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	return s.utility(c, r, req.Model, func(m Model) (any, error) {
		vocab := m.Info().VocabSize
		for i, t := range req.Tokens {
			if t < 0 || (vocab > 0 && t >= vocab) {
				return nil, apierror.InvalidParam("tokens", "Invalid 'tokens': token %d at index %d is not in the vocabulary.", t, i)
			}
		}
		text, err := m.Detokenize(req.Tokens)
		if err != nil {
			return nil, err
		}
		return map[string]any{"content": text}, nil
	})
}

func (s *Server) applyTemplate(c echo.Context, r *request) error {
	var req applyTemplateRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.checkPromptSize("messages", messagesSize(req.Messages, req.Tools, req.ChatTemplateKwargs)); err != nil {
		return err
	}
	tools, err := parseChatTools(req.Tools, req.ToolChoice, nil)
	if err != nil {
		return err
	}
	tmpl, _, err := templateInput(req.Messages, tools, req.ChatTemplateKwargs, pick(req.AddGenerationPrompt, nil, true))
	if err != nil {
		return err
	}
	return s.utility(c, r, req.Model, func(m Model) (any, error) {
		// The model's configured system prompt, as chat requests get it:
		// this endpoint shows exactly the text the model sees.
		tmpl.Messages = withSystemPrompt(tmpl.Messages, r.model.Model.SystemPrompt)
		prompt, _, err := renderPrompt(m, r.model, tmpl)
		if err != nil {
			return nil, err
		}
		return map[string]any{"prompt": prompt}, nil
	})
}
