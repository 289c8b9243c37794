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
			got, err := DecodeStoredResult(cm)
			if err != nil || !bytes.Equal(got, tc.payload) {
				t.Fatalf("DecodeStoredResult = %d bytes, %v", len(got), err)
			}
			cm.Annotations["execution.codeexec.io/result-sha256"] = strings.Repeat("0", 64)
			if _, err := DecodeStoredResult(cm); err == nil || !strings.Contains(err.Error(), "sha256") {
				t.Errorf("a tampered ConfigMap was accepted: %v", err)
			}
		})
	}
}
