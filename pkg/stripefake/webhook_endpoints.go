package stripefake

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// WebhookEndpoint is a webhook endpoint (POST /v1/webhook_endpoints) or an
// event destination (POST /v2/core/event_destinations) created on the fake.
// The fake records it and answers with a secret; it delivers nothing to it
// (Options.WebhookURL does the delivering).
type WebhookEndpoint struct {
	ID            string
	Account       string // the platform's id, or the Stripe-Account/Stripe-Context named
	URL           string
	EnabledEvents []string
	// APIVersion is the endpoint's api_version, or the destination's
	// snapshot_api_version; "" for thin destinations.
	APIVersion string
	// Connect is set for a Connect endpoint (connect=true), or a destination
	// with events_from other_accounts.
	Connect bool
	// Thin is set for an event destination of thin events.
	Thin   bool
	Secret string
}

// webhookEndpoints holds what webhookRoutes created.
type webhookEndpoints struct {
	mu  sync.Mutex
	all []WebhookEndpoint
}

// WebhookEndpoints returns the endpoints and destinations created so far,
// oldest first.
func (s *Server) WebhookEndpoints() []WebhookEndpoint {
	s.endpoints.mu.Lock()
	defer s.endpoints.mu.Unlock()
	return slices.Clone(s.endpoints.all)
}

func (s *Server) addEndpoint(e WebhookEndpoint) {
	s.endpoints.mu.Lock()
	defer s.endpoints.mu.Unlock()
	s.endpoints.all = append(s.endpoints.all, e)
}

// webhookRoutes serves the creation of webhook endpoints
// (https://docs.stripe.com/api/webhook_endpoints/create) and of event
// destinations (https://docs.stripe.com/api/v2/core/event-destinations/create),
// with only the parameters stripesync sends checked.
func (s *Server) webhookRoutes() {
	s.mux.HandleFunc("POST /v1/webhook_endpoints", func(w http.ResponseWriter, r *http.Request) {
		a, _ := r.Context().Value(accountKey{}).(*account)
		if err := r.ParseForm(); err != nil {
			writeError(w, badParam("", "Invalid request body."))
			return
		}
		f := r.PostForm
		events := f["enabled_events[]"]
		switch {
		case f.Get("url") == "":
			writeError(w, badParam("url", "Missing required param: url."))
			return
		case len(events) == 0:
			writeError(w, badParam("enabled_events", "Missing required param: enabled_events."))
			return
		}
		e := WebhookEndpoint{ID: "we_" + randString(rand.IntN, 24), Account: a.id, URL: f.Get("url"), EnabledEvents: events,
			APIVersion: f.Get("api_version"), Connect: f.Get("connect") == "true", Secret: "whsec_" + randString(rand.IntN, 32)}
		s.addEndpoint(e)
		writeEndpointJSON(w, map[string]any{
			"id": e.ID, "object": "webhook_endpoint", "api_version": nullable(e.APIVersion), "application": nil,
			"created": s.now().Unix(), "description": nullable(f.Get("description")), "enabled_events": e.EnabledEvents,
			"livemode": false, "metadata": map[string]any{}, "secret": e.Secret, "status": "enabled", "url": e.URL,
		})
	})
	s.mux.HandleFunc("POST /v2/core/event_destinations", func(w http.ResponseWriter, r *http.Request) {
		a, _ := r.Context().Value(accountKey{}).(*account)
		var p struct {
			Name               string   `json:"name"`
			Type               string   `json:"type"`
			EventPayload       string   `json:"event_payload"`
			EnabledEvents      []string `json:"enabled_events"`
			EventsFrom         []string `json:"events_from"`
			SnapshotAPIVersion string   `json:"snapshot_api_version"`
			Include            []string `json:"include"`
			WebhookEndpoint    struct {
				URL string `json:"url"`
			} `json:"webhook_endpoint"`
		}
		bad := func(msg string) { writeError(w, badParam("", msg)) }
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			bad("Invalid JSON body.")
			return
		}
		switch {
		case p.Name == "":
			bad("Missing required param: name.")
			return
		case p.Type != "webhook_endpoint":
			bad("type: only webhook_endpoint is supported by the fake.")
			return
		case p.EventPayload != "thin" && p.EventPayload != "snapshot":
			bad("event_payload must be thin or snapshot.")
			return
		case len(p.EnabledEvents) == 0:
			bad("Missing required param: enabled_events.")
			return
		case p.WebhookEndpoint.URL == "":
			bad("Missing required param: webhook_endpoint.url.")
			return
		}
		e := WebhookEndpoint{ID: "ed_" + randString(rand.IntN, 24), Account: a.id, URL: p.WebhookEndpoint.URL,
			EnabledEvents: p.EnabledEvents, APIVersion: p.SnapshotAPIVersion, Connect: slices.Contains(p.EventsFrom, "other_accounts"),
			Thin: p.EventPayload == "thin", Secret: "whsec_" + randString(rand.IntN, 32)}
		s.addEndpoint(e)
		we := map[string]any{"url": e.URL}
		if slices.Contains(p.Include, "webhook_endpoint.signing_secret") {
			we["signing_secret"] = e.Secret
		}
		writeEndpointJSON(w, map[string]any{
			"id": e.ID, "object": "v2.core.event_destination", "name": p.Name, "type": p.Type,
			"event_payload": p.EventPayload, "enabled_events": e.EnabledEvents, "events_from": cmpSlice(p.EventsFrom, []string{"self"}),
			"snapshot_api_version": nullable(e.APIVersion), "status": "enabled", "livemode": false,
			"created": s.now().UTC().Format(time.RFC3339Nano), "webhook_endpoint": we,
		})
	})
}

func badParam(param, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Message: msg}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func cmpSlice(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

func writeEndpointJSON(w http.ResponseWriter, v map[string]any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}
