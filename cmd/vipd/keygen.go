package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/membership"
)

func newKeygenCommand() *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen [-o FILE] [--force]",
		Short: "Write a new gossip encryption key",
		Long: `vipd keygen makes a new random 32-byte AES-256 key for encrypting gossip
between the hosts of a cluster, and prints it base64-encoded, or writes it
to FILE with mode 0600. Every host of a cluster needs the same key in the
file that gossip.key_file names; vipd refuses a key file that group or
others can read or write.

A key file holds one key per line. The first line is the primary key, which
encrypts what the host sends; every key in the file decrypts. That is how a
key is changed without stopping the cluster:

  1. vipd keygen prints a new key; add it as the second line of the key file
     on every host, and reload vipd on each.
  2. Move the new key to the first line on every host, and reload each.
  3. Remove the old key on every host, and reload each.

After each step every host can read what every other host sends.

keygen does not replace an existing FILE unless --force is given. A host
whose key is replaced by a key the others do not have cannot rejoin them.

EXIT STATUS
  0  the key was written
  1  FILE exists, or could not be written
  2  the command line is wrong`,
		Example: `  vipd keygen -o /etc/vipd/gossip.key
  vipd keygen                     # print a key, to add as a second line
  vipd keygen -o /etc/vipd/gossip.key --force`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKeygen(cmd.OutOrStdout(), cmd.ErrOrStderr(), out, force)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the key to this file (mode 0600) instead of printing it")
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	return cmd
}

func runKeygen(stdout, stderr io.Writer, path string, force bool) error {
	key, err := membership.GenerateKey()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	content := membership.FormatKeyFile([][]byte{key})
	if path == "" {
		_, err := stdout.Write(content)
		return err
	}
	if err := writeKeyFile(path, content, force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			fmt.Fprintf(stderr, "%s: exists; keygen does not replace a key file: pass --force to replace it (hosts still using the old key will no longer be able to join)\n", path)
		} else {
			fmt.Fprintln(stderr, err)
		}
		return exitError{1}
	}
	fmt.Fprintf(stderr, "%s: wrote a new gossip key (mode 0600); copy it to every host of the cluster\n", path)
	return nil
}

// writeKeyFile writes content to path with mode 0600. Without force it
// fails with fs.ErrExist when path exists; with force it replaces path
// atomically, so a reader never sees half a key file.
func writeKeyFile(path string, content []byte, force bool) error {
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := f.Write(content); err != nil {
			f.Close()
			os.Remove(path)
			return err
		}
		if err := f.Chmod(0o600); err != nil { // whatever the umask
			f.Close()
			return err
		}
		return f.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
