package fakestripe_test

import (
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/stripesync/stripesync/services/syncer/internal/fakestripe"
)

func Example() {
	s := fakestripe.New(fakestripe.Options{})
	if err := fakestripe.Seed(s, fakestripe.SeedOptions{Customers: 25, RandSeed: 1, Now: time.Now()}); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	api := fakestripe.NewAPI(srv.URL, fakestripe.TestKey, 2)
	it := api.Customers.List(&stripe.CustomerListParams{})
	n := 0
	for it.Next() {
		n++
	}
	fmt.Println(n, it.Err())
	// Output: 25 <nil>
}
