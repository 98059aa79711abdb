package election

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestReasonsHaveNames(t *testing.T) {
	for r := ReasonOwnerKept; r <= ReasonDuplicateUnit; r++ {
		if strings.HasPrefix(r.String(), "Reason(") {
			t.Errorf("reason %d has no phrase", int(r))
		}
		text, err := r.MarshalText()
		if err != nil {
			t.Fatalf("%v: MarshalText: %v", r, err)
		}
		var back Reason
		if err := back.UnmarshalText(text); err != nil || back != r {
			t.Errorf("%v: %q reads back as %v, %v", r, text, back, err)
		}
	}
	if _, err := Reason(0).MarshalText(); err == nil {
		t.Error("the zero Reason marshals")
	}
	if got := Reason(99).String(); got != "Reason(99)" {
		t.Errorf("Reason(99).String() = %q", got)
	}
}

func TestEligibilitiesHaveNames(t *testing.T) {
	for e := DuplicateHost; e <= Eligible; e++ {
		if strings.HasPrefix(e.String(), "Eligibility(") {
			t.Errorf("eligibility %d has no phrase", int(e))
		}
		text, err := e.MarshalText()
		if err != nil {
			t.Fatalf("%v: MarshalText: %v", e, err)
		}
		var back Eligibility
		if err := back.UnmarshalText(text); err != nil || back != e {
			t.Errorf("%v: %q reads back as %v, %v", e, text, back, err)
		}
	}
	var e Eligibility
	if err := e.UnmarshalText([]byte("sleepy")); err == nil {
		t.Error(`"sleepy" reads as an eligibility`)
	}
}

func TestDecisionsMarshalReadably(t *testing.T) {
	d := Decision{Key: "web", Owner: "h1", Reason: ReasonElected, Hosts: []string{"h1", "h2"}, Eligibility: []Eligibility{Eligible, ChecksFailing}}
	got, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Key":"web","VIPs":null,"Owner":"h1","Reason":"elected","Hosts":["h1","h2"],"Eligibility":["eligible","checks-failing"]}`
	if string(got) != want {
		t.Errorf("json:\n got %s\nwant %s", got, want)
	}
}
