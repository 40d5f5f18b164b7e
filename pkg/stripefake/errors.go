package stripefake

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an API error in Stripe's shape:
// {"error": {"type": ..., "code": ..., "message": ..., "param": ...}}.
// See https://docs.stripe.com/api/errors. The mutation methods return it too,
// e.g. with Code "resource_missing" for an unknown id.
type Error struct {
	Status  int    // HTTP status code
	Type    string // invalid_request_error, api_error…
	Code    string // optional: resource_missing, rate_limit, lock_timeout…
	Message string
	Param   string // optional: the parameter at fault
}

// Error formats the status, type, code and message.
func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%d %s (%s): %s", e.Status, e.Type, e.Code, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

func (e *Error) body() map[string]any {
	inner := map[string]any{"type": e.Type, "message": e.Message}
	if e.Code != "" {
		inner["code"] = e.Code
		inner["doc_url"] = "https://stripe.com/docs/error-codes/" + docSlug(e.Code)
	}
	if e.Param != "" {
		inner["param"] = e.Param
	}
	return map[string]any{"error": inner}
}

func docSlug(code string) string {
	b := []byte(code)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

func invalid(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Message: fmt.Sprintf(format, args...)}
}

// missing is Stripe's answer for an unknown id: 404 resource_missing.
func missing(object, id, param string) *Error {
	return &Error{
		Status: http.StatusNotFound, Type: "invalid_request_error", Code: "resource_missing", Param: param,
		Message: fmt.Sprintf("No such %s: '%s'", humanName(object), id),
	}
}

func humanName(object string) string {
	switch object {
	case "checkout.session":
		return "checkout.session"
	case "radar.early_fraud_warning":
		return "early fraud warning"
	case "invoiceitem":
		return "invoice item"
	case paymentSource:
		return "source"
	}
	b := []byte(object)
	for i, c := range b {
		if c == '_' {
			b[i] = ' '
		}
	}
	return string(b)
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Type: "api_error", Message: err.Error()}
	}
	body, merr := marshal(e.body())
	if merr != nil {
		http.Error(w, merr.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client hung up; nothing to do
}
