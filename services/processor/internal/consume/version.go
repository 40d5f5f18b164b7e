package consume

import (
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// versionWatch counts the snapshot events rendered in another API version
// than the mirror's (STRIPE_API_VERSION), and warns once per version: their
// objects have another shape than the objects the mirror fetches, so one
// relation would hold two shapes. The fix is to set the webhook endpoint to
// the mirror's version, or the mirror's to the endpoint's (README "API
// versions").
type versionWatch struct {
	log   *slog.Logger
	want  string
	other *prometheus.CounterVec
	seen  sync.Map // version → struct{}
}

func newVersionWatch(log *slog.Logger, want string, reg prometheus.Registerer) *versionWatch {
	w := &versionWatch{
		log:  log,
		want: want,
		other: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_sync_processor_events_other_api_version_total",
			Help: "Snapshot events rendered in another API version than STRIPE_API_VERSION, by version.",
		}, []string{"api_version"}),
	}
	reg.MustRegister(w.other)
	return w
}

// observe notes an event's API version; thin events have none.
func (w *versionWatch) observe(version string) {
	if w == nil || version == "" || version == w.want {
		return
	}
	w.other.WithLabelValues(version).Inc()
	if _, seen := w.seen.LoadOrStore(version, struct{}{}); !seen {
		w.log.Warn("events arrive in another API version than the mirror's: set the webhook endpoint and STRIPE_API_VERSION to the same version",
			"event_api_version", version, "stripe_api_version", w.want)
	}
}
