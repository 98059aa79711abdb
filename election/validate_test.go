package election

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	good := View{Hosts: []Host{{Name: "h1"}, {Name: "h2"}}, Units: []Unit{{Key: "a"}, {Key: "b"}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid view: %v", err)
	}

	bad := View{Hosts: []Host{{Name: "h1"}, {}, {Name: "h1"}}, Units: []Unit{{Key: "a"}, {Key: "a"}, {}}}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid view passes")
	}
	for _, want := range []string{`host 1 has no name`, `host "h1" appears twice`, `unit "a" appears twice`, `unit 2 has no key`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
