package server

import (
	"encoding/json"
	"net/http"
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

// withModel acquires the request's model for a short utility call.
func (s *Server) withModel(c echo.Context, endpoint, bodyModel string, fn func(info ModelInfo, m Model) error) error {
	info, err := s.resolveModel(c, bodyModel)
	if err != nil {
		return err
	}
	ctx, ticket, err := s.admit(c, Call{Endpoint: endpoint, Model: info.ID, ModelAliases: info.Aliases})
	if err != nil {
		return err
	}
	defer ticket.Finish(engine.Usage{})
	lease, err := s.catalog.Acquire(ctx, info.ID)
	if err != nil {
		return err
	}
	defer lease.Release()
	return fn(info, lease.Model())
}

func (s *Server) tokenize(c echo.Context) error {
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
	return s.withModel(c, "tokenize", req.Model, func(_ ModelInfo, m Model) error {
		toks, err := m.Tokenize(*req.Content, pick(req.AddSpecial, nil, false), pick(req.ParseSpecial, nil, true))
		if err != nil {
			return err
		}
		if req.WithPieces == nil || !*req.WithPieces {
			if toks == nil {
				toks = []int{}
			}
			return c.JSON(http.StatusOK, map[string]any{"tokens": toks})
		}
		pieces := make([]tokenPiece, len(toks))
		for i, t := range toks {
			text, err := m.Detokenize([]int{t})
			if err != nil {
				return err
			}
			var piece any = text
			if !utf8.ValidString(text) {
				piece = bytesJSON([]byte(text))
			}
			pieces[i] = tokenPiece{ID: t, Piece: piece}
		}
		return c.JSON(http.StatusOK, map[string]any{"tokens": pieces})
	})
}

func (s *Server) detokenize(c echo.Context) error {
	var req detokenizeRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	return s.withModel(c, "detokenize", req.Model, func(_ ModelInfo, m Model) error {
		vocab := m.Info().VocabSize
		for i, t := range req.Tokens {
			if t < 0 || (vocab > 0 && t >= vocab) {
				return apierror.InvalidParam("tokens", "Invalid 'tokens': token %d at index %d is not in the vocabulary.", t, i)
			}
		}
		text, err := m.Detokenize(req.Tokens)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"content": text})
	})
}

func (s *Server) applyTemplate(c echo.Context) error {
	var req applyTemplateRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.checkPromptSize("messages", messagesSize(req.Messages, req.Tools)); err != nil {
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
	return s.withModel(c, "apply-template", req.Model, func(info ModelInfo, m Model) error {
		prompt, _, err := renderPrompt(m, info, tmpl)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"prompt": prompt})
	})
}
