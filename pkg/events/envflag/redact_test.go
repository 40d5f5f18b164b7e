package envflag_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events/envflag"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"Empty", "", ""},
		{"URLWithoutPassword", "postgres://postgres@127.0.0.1:5432/stripe", "postgres://postgres@127.0.0.1:5432/stripe"},
		{"URLPassword", "postgres://app:s3cret@db:5432/stripe?sslmode=require", "postgres://app:xxxxx@db:5432/stripe?sslmode=require"},
		{"URLPasswordInQuery", "postgresql:///stripe?host=/run/pg&password=s3cret&sslpassword=s3cret", "postgresql:///stripe?host=%2Frun%2Fpg&password=xxxxx&sslpassword=xxxxx"},
		{"URLSeveralHosts", "postgres://app:s3cret@h1:5432,h2:5432/stripe", "postgres://app:xxxxx@h1:5432,h2:5432/stripe"},
		{"NATSUserPassword", "nats://app:s3cret@127.0.0.1:34222", "nats://app:xxxxx@127.0.0.1:34222"},
		{"NATSToken", "nats://s3cret@127.0.0.1:34222", "nats://xxxxx@127.0.0.1:34222"},
		{"NATSList", "nats://a:s3cret@n1:34222, nats://n2:34222", "nats://a:xxxxx@n1:34222,nats://n2:34222"},
		{"UnparsableURL", "postgres://app:s3cret@db:port/stripe", "REDACTED"},
		{"Keywords", "host=127.0.0.1 user=app password=s3cret dbname=stripe", "host=127.0.0.1 user=app password=xxxxx dbname=stripe"},
		{"KeywordsQuoted", "host=db password='a b s3cret' dbname=stripe", "host=db password=xxxxx dbname=stripe"},
		{"KeywordsQuotedEscapes", `password='it\'s s3cret' application_name='a \\ b'`, `password=xxxxx application_name='a \\ b'`},
		{"KeywordsSpacesAroundEquals", "host = db password = s3cret  user=app", "host=db password=xxxxx user=app"},
		{"KeywordsSpacesBeforeQuote", "password = 's3cret value' host=db", "password=xxxxx host=db"},
		{"KeywordsEscapedSpace", `password=s3cret\ more host=db`, "password=xxxxx host=db"},
		{"KeywordsSSLPassword", "host=db sslpassword=s3cret", "host=db sslpassword=xxxxx"},
		{"UnterminatedQuote", "host=db password='s3cret", "REDACTED"},
		{"NoEquals", "host db password s3cret", "REDACTED"},
		{"NoScheme", "app:s3cret@db:5432/stripe", "REDACTED"},
		{"MissingKeyword", "=s3cret", "REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := envflag.Redact(tt.in)
			require.Equal(t, tt.want, got)
			require.NotContains(t, got, "s3cret")
		})
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"host=127.0.0.1 password=s3cret", "password = 'a b'", "postgres://u:s3cret@h/db", "nats://s3cret@h", `password=a\ b`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = envflag.Redact(s) // must not panic
	})
}
