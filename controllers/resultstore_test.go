package controllers

import (
	"bytes"
	"strings"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

func TestResultStatusAndDecode(t *testing.T) {
	ce := wrappers.MakeCodeExecution("cx", "ns").UID(testUID).Obj()
	cases := map[string]struct {
		payload    []byte
		wantInline bool
	}{
		"small stays inline":        {payload: []byte(`{"a":1}`), wantInline: true},
		"large goes to a ConfigMap": {payload: []byte(`"` + strings.Repeat("x", 100000) + `"`)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st, cm, err := ResultStatus(ce, tc.payload, false)
			if err != nil {
				t.Fatal(err)
			}
			if st.SizeBytes != int64(len(tc.payload)) || len(st.SHA256) != 64 {
				t.Errorf("status %+v", st)
			}
			if tc.wantInline {
				if st.Inline != string(tc.payload) || cm != nil || st.ConfigMapName != "" {
					t.Errorf("want inline, got %+v and ConfigMap %v", st, cm != nil)
				}
				return
			}
			if st.Inline != "" || cm == nil || cm.Name != st.ConfigMapName {
				t.Fatalf("want a ConfigMap, got %+v", st)
			}
			got, err := DecodeStoredResult(cm, st)
			if err != nil || !bytes.Equal(got, tc.payload) {
				t.Fatalf("DecodeStoredResult = %d bytes, %v", len(got), err)
			}
			// A neighbour's forgery: other data, with the annotation
			// recomputed to match it. Only the status' sha256 counts.
			forged := []byte(`"` + strings.Repeat("y", 100000) + `"`)
			_, fcm, err := ResultStatus(ce, forged, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeStoredResult(fcm, st); err == nil || !strings.Contains(err.Error(), "sha256") {
				t.Errorf("a forged ConfigMap with a matching annotation was accepted: %v", err)
			}
			if _, err := DecodeStoredResult(cm, nil); err == nil {
				t.Error("a result was decoded without the status to check it against")
			}
		})
	}
}
