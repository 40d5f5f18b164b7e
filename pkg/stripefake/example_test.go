package stripefake_test

import (
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/stripesync/stripesync/pkg/stripefake"
)

func Example() {
	s := stripefake.New(stripefake.Options{})
	if err := stripefake.Seed(s, stripefake.SeedOptions{Customers: 25, RandSeed: 1, Now: time.Now()}); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	api := newAPI(srv.URL, stripefake.TestKey, 2)
	it := api.Customers.List(&stripe.CustomerListParams{})
	n := 0
	for it.Next() {
		n++
	}
	fmt.Println(n, it.Err())
	// Output: 25 <nil>
}
