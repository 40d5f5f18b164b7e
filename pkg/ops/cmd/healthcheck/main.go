// Command healthcheck is the container health check of the images, which
// have no shell, curl or wget: it GETs a URL and exits 0 when the answer is
// 2xx, 1 otherwise, within -timeout.
//
//	healthcheck http://127.0.0.1:8080/readyz
//	healthcheck -bearer sk_test_fakestripe0000000000 "http://127.0.0.1:12111/v1/customers?limit=1"
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "healthcheck GETs a URL and exits 0 on a 2xx answer.\n\nusage: healthcheck [flags] URL\n\nflags:\n")
		fs.PrintDefaults()
	}
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	bearer := fs.String("bearer", "", "Authorization: Bearer value to send")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one URL, got %d arguments", fs.NArg())
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fs.Arg(0), nil)
	if err != nil {
		return err
	}
	if *bearer != "" {
		req.Header.Set("Authorization", "Bearer "+*bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", fs.Arg(0), resp.Status)
	}
	return nil
}
