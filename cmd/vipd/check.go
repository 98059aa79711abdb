package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/config"
)

func newCheckCommand() *cobra.Command {
	var path string
	var print bool
	cmd := &cobra.Command{
		Use:   "check [-c FILE] [--print]",
		Short: "Validate the configuration file and exit",
		Long: `vipd check reads the configuration file, validates all of it and exits, like
'keepalived -t', 'nginx -t' or 'haproxy -c'. It changes nothing on the host.

When the file is good it prints a one-line summary and exits 0. When it is
not, it prints every problem it found, one per line, as

  FILE:LINE:COL: path.to.key: what is wrong, and what would be right

and exits 1. Unknown keys, values of the wrong type, bad addresses, duplicate
names, references to undefined checks, timeouts not below their interval and
VIP groups whose members disagree are all errors.

With --print it prints the effective configuration instead of the summary:
the file with every default filled in, itself a valid config file.

EXIT STATUS
  0  the file is valid
  1  the file is invalid or cannot be read
  2  the command line is wrong`,
		Example: `  vipd check
  vipd check -c /etc/vipd.yaml.new && mv /etc/vipd.yaml.new /etc/vipd.yaml
  vipd check --print | less`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd.OutOrStdout(), cmd.ErrOrStderr(), path, print)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", config.DefaultPath, "the configuration file to check")
	cmd.Flags().BoolVar(&print, "print", false, "print the effective configuration, defaults filled in")
	return cmd
}

func runCheck(stdout, stderr io.Writer, path string, print bool) error {
	cfg, err := config.Load(path)
	if err != nil {
		if problems := config.Errors(err); len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(stderr, p)
			}
			fmt.Fprintf(stderr, "%s: %d %s; nothing was changed\n", path, len(problems), plural(len(problems), "error", "errors"))
		} else if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "%s: no such file; write one from /usr/share/doc/vipd/examples/vipd.yaml or pass -c FILE\n", path)
		} else {
			fmt.Fprintf(stderr, "%v\n", err)
		}
		return exitError{1}
	}
	if print {
		out, err := cfg.YAML()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitError{1}
		}
		_, err = stdout.Write(out)
		return err
	}
	fmt.Fprintf(stdout, "%s: OK: %s\n", path, cfg.Summary())
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
