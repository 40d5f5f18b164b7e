package stripesync_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

// TestCompose checks docker-compose.yml, as Docker's own loader reads it,
// without a Docker engine: which services each profile starts, their health
// checks and start order, that each command is a binary the Dockerfile
// builds, and that every environment variable set for a service is one the
// service reads (from the "(env NAME)" of its -h).
func TestCompose(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)

	load := func(t *testing.T, profiles ...string) *types.Project {
		t.Helper()
		opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
			cli.WithName("stripesync"), cli.WithWorkingDirectory(root), cli.WithProfiles(profiles),
			cli.WithEnv([]string{})) // the defaults of the file, not this machine's environment
		require.NoError(t, err)
		p, err := opts.LoadProject(t.Context())
		require.NoError(t, err)
		return p
	}
	names := func(p *types.Project) []string {
		n := p.ServiceNames()
		slices.Sort(n)
		return n
	}

	// The commands the Dockerfile builds into the image.
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	var binaries []string
	for _, m := range regexp.MustCompile(`\./\S+/cmd/([a-z-]+)`).FindAllStringSubmatch(string(dockerfile), -1) {
		binaries = append(binaries, m[1])
	}
	require.Subset(t, binaries, []string{"ingest", "processor", "syncer", "stripesync", "fakestripe", "send-test-event", "healthcheck"})
	require.Contains(t, string(dockerfile), "distroless/static-debian12:nonroot")
	require.Regexp(t, `(?m)^USER nonroot`, string(dockerfile))

	t.Run("Profiles", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{"ingest", "nats", "postgres", "processor"}, names(load(t)))
		require.Equal(t, []string{"fakestripe", "ingest", "nats", "postgres", "processor", "syncer-demo"}, names(load(t, "demo")))
		require.Equal(t, []string{"ingest", "nats", "postgres", "processor", "syncer"}, names(load(t, "syncer")))
		require.Equal(t, []string{"ingest", "nats", "postgres", "processor", "send-test-event"}, names(load(t, "tools")))
	})

	all := load(t, "*")

	t.Run("HealthAndStartOrder", func(t *testing.T) {
		t.Parallel()
		for name, svc := range all.Services {
			if name != "send-test-event" { // a one-shot command
				require.NotNil(t, svc.HealthCheck, "%s has no health check", name)
				require.NotEmpty(t, svc.HealthCheck.Test, name)
				require.Equal(t, "CMD", svc.HealthCheck.Test[0], "%s: exec form, the images have no shell", name)
				if svc.Build != nil {
					require.Contains(t, binaries, svc.HealthCheck.Test[1], "%s: health check is no binary of the image", name)
				}
			}
			for dep, d := range svc.DependsOn {
				require.Equal(t, types.ServiceConditionHealthy, d.Condition, "%s waits for %s only to start", name, dep)
				require.NotNil(t, all.Services[dep].HealthCheck, "%s waits for %s, which has no health check", name, dep)
			}
		}
		want := map[string][]string{
			"ingest":          {"nats"},
			"processor":       {"nats", "postgres"},
			"syncer":          {"nats", "processor"},
			"fakestripe":      {"ingest"},
			"syncer-demo":     {"fakestripe", "nats", "processor"},
			"send-test-event": {"ingest"},
		}
		for name, deps := range want {
			var got []string
			for dep := range all.Services[name].DependsOn {
				got = append(got, dep)
			}
			slices.Sort(got)
			require.Equal(t, deps, got, name)
		}
		// Without a key the syncer profile's syncer stops at its config
		// error: it must not be restarted for ever.
		require.Equal(t, "on-failure:3", all.Services["syncer"].Restart)
	})

	t.Run("Demo", func(t *testing.T) {
		t.Parallel()
		demo := load(t, "demo", "tools")
		env := func(svc, k string) string {
			v := demo.Services[svc].Environment[k]
			require.NotNil(t, v, "%s: %s unset", svc, k)
			return *v
		}
		fake := demo.Services["fakestripe"].Command
		require.Contains(t, fake, "http://ingest:8080/webhooks/stripe", "the fake sends its webhooks to ingest")
		require.Contains(t, strings.Split(env("ingest", "STRIPE_WEBHOOK_SECRET"), ","), "whsec_fakestripe0000000000",
			"ingest verifies the fake's signatures")
		require.Equal(t, "http://fakestripe:12111", env("syncer-demo", "STRIPE_API_BASE"))
		require.Equal(t, "sk_test_fakestripe0000000000", env("syncer-demo", "STRIPE_API_KEY"))
		require.NotEmpty(t, env("processor", "STRIPE_API_BASE"))
		require.Equal(t, strings.Split(env("ingest", "STRIPE_WEBHOOK_SECRET"), ",")[0], env("send-test-event", "STRIPE_WEBHOOK_SECRET"))
	})

	t.Run("EnvironmentIsRead", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("builds every command")
		}
		bin := t.TempDir()
		args := []string{"build", "-o", bin + string(filepath.Separator)}
		args = append(args, regexp.MustCompile(`\./\S+/cmd/[a-z-]+`).FindAllString(string(dockerfile), -1)...)
		build := exec.CommandContext(t.Context(), "go", args...)
		build.Dir = root
		out, err := build.CombinedOutput()
		require.NoError(t, err, "%s", out)

		envName := regexp.MustCompile(`\(env ([A-Z0-9_]+)\)`)
		for name, svc := range all.Services {
			if svc.Build == nil || len(svc.Environment) == 0 {
				continue
			}
			cmd := []string{filepath.Join(bin, svc.Command[0])}
			if len(svc.Command) > 1 && !strings.HasPrefix(svc.Command[1], "-") {
				cmd = append(cmd, svc.Command[1]) // a subcommand: syncer serve
			}
			help, _ := exec.CommandContext(t.Context(), cmd[0], append(cmd[1:], "-h")...).CombinedOutput()
			read := map[string]bool{}
			for _, m := range envName.FindAllStringSubmatch(string(help), -1) {
				read[m[1]] = true
			}
			require.NotEmpty(t, read, "%s: %v -h names no environment variable:\n%s", name, cmd, help)
			for k := range svc.Environment {
				require.True(t, read[k], "%s sets %s, which %s does not read", name, k, strings.Join(svc.Command, " "))
			}
		}
	})
}
