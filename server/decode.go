package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

// readBody reads the request body under the size limit. The read deadline
// is set here rather than with http.Server.ReadTimeout: that timeout would
// also fire during a long streaming response and cancel its context.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	req := c.Request()
	if req.ContentLength > s.settings.BodyLimit {
		return nil, &http.MaxBytesError{Limit: s.settings.BodyLimit}
	}
	rc := http.NewResponseController(c.Response())
	if s.settings.ReadTimeout > 0 {
		_ = rc.SetReadDeadline(time.Now().Add(s.settings.ReadTimeout))
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, s.settings.BodyLimit))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, mb
		}
		return nil, apierror.BadRequest("invalid_request", "Could not read the request body: %v", err)
	}
	return body, nil
}

// decodeJSON reads the body into v. Unknown fields are ignored (as OpenAI
// does); a value of the wrong type is a 400 naming its field path.
func (s *Server) decodeJSON(c echo.Context, v any) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	return unmarshalRequest(body, v)
}

func unmarshalRequest(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apierror.BadRequest("invalid_json", "The request body is empty; expected a JSON object.")
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return apierror.BadRequest("invalid_json",
			"We could not parse the JSON body of your request: %v (at byte %d).", syntax, syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return apierror.BadRequest("invalid_json", "The request body must be a JSON object.")
		}
		// Embedded Go structs show up in the path; clients know JSON names.
		field := strings.ReplaceAll(typ.Field, "genParams.", "")
		return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, "invalid_type", field,
			"Invalid type for '%s': expected %s, but got %s.", field, describeType(typ.Type), describeJSON(typ.Value))
	case errors.As(err, new(*apierror.Error)):
		return err
	}
	return apierror.BadRequest("invalid_json", "We could not parse the JSON body of your request: %v", err)
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

func describeJSON(v string) string {
	switch v {
	case "object", "array":
		return "an " + v
	case "":
		return "another type"
	}
	return fmt.Sprintf("a %s", v)
}
