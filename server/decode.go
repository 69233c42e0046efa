package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"

	"github.com/ggufd/ggufd/server/apierror"
	"github.com/labstack/echo/v4"
)

// readBody reads the request body under the size limit, in the time
// guardBody allows.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	req := c.Request()
	lim := s.currentLimits()
	if req.ContentLength > lim.BodyLimit {
		// The body is left unread, so the connection is closed after the
		// 413, as MaxBytesReader does for a body found too large midway;
		// net/http would otherwise read up to 256 KiB of it to reuse the
		// connection.
		c.Response().Header().Set(echo.HeaderConnection, "close")
		return nil, &http.MaxBytesError{Limit: lim.BodyLimit}
	}
	// The writer net/http gave us, which MaxBytesReader tells to close the
	// connection once the limit is hit.
	body, err := io.ReadAll(http.MaxBytesReader(c.Response().Writer, req.Body, lim.BodyLimit))
	if err != nil {
		var mb *http.MaxBytesError
		switch {
		case errors.As(err, &mb):
			return nil, mb
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, apierror.New(http.StatusRequestTimeout, apierror.TypeInvalidRequest, "request_timeout", "",
				"The request body did not arrive within %s (body_timeout).", lim.BodyTimeout)
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
