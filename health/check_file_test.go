package health

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

func TestFileCheckFailsWhileTheMaintenanceFileExists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maintenance")
	checker := mustChecker(t, &config.Check{Type: config.CheckFile, Path: path, Interval: config.D(time.Second), Timeout: config.D(time.Second), Rise: 1, Fall: 1})
	present := "maintenance file " + path + " exists; remove it to put this host back in service"

	expect(t, checker, "")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, checker, present)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	expect(t, checker, "")
	// A symlink to nowhere is still a file someone put there.
	if err := os.Symlink("/nonexistent/target", path); err != nil {
		t.Fatal(err)
	}
	expect(t, checker, present)
}
