package stripeapi

import "github.com/prometheus/client_golang/prometheus"

// Collector exports what the limiters of one process counted, summed, as
// Prometheus metrics, each name beginning with prefix (stripe_sync_syncer,
// stripe_sync_processor), so that every service that calls the API exports
// the same series:
//
//	<prefix>_api_requests_total                      requests sent, retries included
//	<prefix>_api_rate_limited_total                  429 answers
//	<prefix>_api_rate_limit                          the configured rate over all endpoints, requests/s: the budget
//	<prefix>_api_rate_limit_current                  the rate allowed now (lower for a while after 429s)
//	<prefix>_api_endpoint_requests_total{endpoint}   requests per endpoint (see Endpoint)
//	<prefix>_api_endpoint_rate_limited_total{endpoint}
//
// The values are read from the limiters at scrape time.
func Collector(prefix string, lims ...*Limiter) prometheus.Collector {
	return &limiterCollector{
		lims:     lims,
		requests: prometheus.NewDesc(prefix+"_api_requests_total", "Stripe API requests sent, retries included.", nil, nil),
		limited:  prometheus.NewDesc(prefix+"_api_rate_limited_total", "Stripe API answers 429.", nil, nil),
		limit: prometheus.NewDesc(prefix+"_api_rate_limit",
			"Stripe API requests per second configured over all endpoints: the budget this process spends at most.", nil, nil),
		rate: prometheus.NewDesc(prefix+"_api_rate_limit_current",
			"Stripe API requests per second allowed now over all endpoints: the configured rate, or less for a while after 429s.", nil, nil),
		endpointRequests: prometheus.NewDesc(prefix+"_api_endpoint_requests_total",
			"Stripe API requests sent, by endpoint (method and path, ids as {id}): each has its own rate limit.", []string{"endpoint"}, nil),
		endpointLimited: prometheus.NewDesc(prefix+"_api_endpoint_rate_limited_total",
			"Stripe API answers 429, by endpoint.", []string{"endpoint"}, nil),
	}
}

type limiterCollector struct {
	lims                                                              []*Limiter
	requests, limited, limit, rate, endpointRequests, endpointLimited *prometheus.Desc
}

func (c *limiterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.requests
	ch <- c.limited
	ch <- c.limit
	ch <- c.rate
	ch <- c.endpointRequests
	ch <- c.endpointLimited
}

func (c *limiterCollector) Collect(ch chan<- prometheus.Metric) {
	var requests, limited int64
	var limit, rate float64
	type counts struct{ requests, limited int64 }
	byEndpoint := map[string]*counts{}
	var order []string
	for _, l := range c.lims {
		requests, limited = requests+l.Requests(), limited+l.RateLimited()
		limit, rate = limit+l.MaxRate(), rate+l.Rate()
		for _, e := range l.Endpoints() {
			n := byEndpoint[e.Endpoint]
			if n == nil {
				n = &counts{}
				byEndpoint[e.Endpoint] = n
				order = append(order, e.Endpoint)
			}
			n.requests += e.Requests
			n.limited += e.RateLimited
		}
	}
	ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(requests))
	ch <- prometheus.MustNewConstMetric(c.limited, prometheus.CounterValue, float64(limited))
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, limit)
	ch <- prometheus.MustNewConstMetric(c.rate, prometheus.GaugeValue, rate)
	for _, ep := range order {
		n := byEndpoint[ep]
		ch <- prometheus.MustNewConstMetric(c.endpointRequests, prometheus.CounterValue, float64(n.requests), ep)
		ch <- prometheus.MustNewConstMetric(c.endpointLimited, prometheus.CounterValue, float64(n.limited), ep)
	}
}
