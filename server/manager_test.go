package server

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/apierror"
)

func TestFromModelsError(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{&models.NotFoundError{Name: "x", Suggestions: []string{"y"}}, http.StatusNotFound, "model_not_found"},
		{&models.InsufficientMemoryError{Model: "x", Needed: 8 << 30, Available: 1 << 30}, http.StatusServiceUnavailable, "model_unavailable"},
		{&models.LoadFailedError{Model: "x", Err: errors.New("truncated file")}, http.StatusServiceUnavailable, "model_unavailable"},
		{models.ErrClosed, http.StatusServiceUnavailable, "model_unavailable"},
		{context.Canceled, apierror.StatusClientClosed, "request_cancelled"},
		{errors.New("boom"), http.StatusInternalServerError, "internal_error"},
	}
	for _, tc := range tests {
		ae, _ := toAPIError(tc.err)
		if ae.Status != tc.status || deref(ae.Code) != tc.code {
			t.Errorf("%v: got %d %s (%s)", tc.err, ae.Status, deref(ae.Code), ae.Message)
		}
	}
}
