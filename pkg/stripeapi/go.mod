module github.com/stripesync/stripesync/pkg/stripeapi

go 1.26.0

require (
	github.com/goccy/go-json v0.12.0
	github.com/stretchr/testify v1.12.1
	github.com/stripe/stripe-go/v76 v76.25.0
	github.com/stripesync/stripesync/pkg/catalog v0.0.0
	github.com/stripesync/stripesync/pkg/events v0.0.0
	github.com/stripesync/stripesync/pkg/stripefake v0.0.0
	golang.org/x/time v0.16.0
)

require go.yaml.in/yaml/v3 v3.0.6 // indirect

replace (
	github.com/stripesync/stripesync/pkg/catalog => ../catalog
	github.com/stripesync/stripesync/pkg/events => ../events
	github.com/stripesync/stripesync/pkg/stripefake => ../stripefake
)
