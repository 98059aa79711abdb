package election

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecisionsQueries(t *testing.T) {
	units := []Unit{
		{Key: "a", VIPs: []string{"192.0.2.1"}, Priority: map[string]int{"h1": 1}},
		{Key: "b", VIPs: []string{"192.0.2.3", "192.0.2.2"}, Priority: map[string]int{"h2": 1}},
		{Key: "c", VIPs: []string{"192.0.2.4"}, Priority: map[string]int{"h1": 1}},
		{Key: "d", VIPs: []string{"192.0.2.5"}},
	}
	ds := Decide(View{Units: units, Hosts: []Host{node("h1", units, failing("d")), node("h2", units, failing("d"))}})

	if owner, ok := ds.OwnerOf("b"); owner != "h2" || !ok {
		t.Errorf(`OwnerOf("b") = %q, %v, want "h2", true`, owner, ok)
	}
	if owner, ok := ds.OwnerOf("d"); owner != "" || ok {
		t.Errorf(`OwnerOf("d") = %q, %v, want no owner`, owner, ok)
	}
	if owner, ok := ds.OwnerOf("nope"); owner != "" || ok {
		t.Errorf(`OwnerOf("nope") = %q, %v, want no owner`, owner, ok)
	}
	if _, ok := ds.Lookup("nope"); ok {
		t.Error(`Lookup("nope") found a decision`)
	}
	if diff := cmp.Diff([]string{"a", "c"}, ds.OwnedBy("h1")); diff != "" {
		t.Errorf("OwnedBy(h1) (-want +got):\n%s", diff)
	}
	if got := ds.OwnedBy(""); got != nil {
		t.Errorf(`OwnedBy("") = %v, want nothing`, got)
	}
	if diff := cmp.Diff([]string{"192.0.2.2", "192.0.2.3"}, ds.VIPsOwnedBy("h2")); diff != "" {
		t.Errorf("VIPsOwnedBy(h2) (-want +got):\n%s", diff)
	}
	d, _ := ds.Lookup("d")
	if diff := cmp.Diff([]string{"h1", "h2"}, d.HostsWith(ChecksFailing)); diff != "" {
		t.Errorf("HostsWith(ChecksFailing) (-want +got):\n%s", diff)
	}
}

func TestKeySet(t *testing.T) {
	var empty KeySet
	if empty.Has("a") || len(empty.Sorted()) != 0 {
		t.Error("nil KeySet is not empty")
	}
	s := NewKeySet("b", "a", "b")
	if !s.Has("a") || s.Has("c") {
		t.Errorf("NewKeySet: %v", s)
	}
	if diff := cmp.Diff([]string{"a", "b"}, s.Sorted()); diff != "" {
		t.Errorf("Sorted (-want +got):\n%s", diff)
	}
}
