package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// bindEnv lets every flag of cmd also come from the environment: --agent-id
// from BMC_AGENT_AGENT_ID (prefix "BMC_AGENT_"). A flag given on the command
// line wins over the environment.
func bindEnv(cmd *cobra.Command, prefix string) error {
	var errs []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: %v", name, v, err))
			}
		}
	})
	if len(errs) > 0 {
		return &usageError{fmt.Errorf("bad environment: %s", strings.Join(errs, "; "))}
	}
	return nil
}

// envHelp is appended to the help of commands that read the environment.
func envHelp(prefix string) string {
	return "\nEvery flag can also be set in the environment: --some-flag as " + prefix + "SOME_FLAG.\n"
}
