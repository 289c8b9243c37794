package integration

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	execv1 "github.com/codeexec/codeexec-operator/api/v1alpha1"
	"github.com/codeexec/codeexec-operator/internal/testutil/wrappers"
)

// flakyWebhook is a validating admission webhook for the ConfigMaps of one
// namespace that answers the first `times` requests with fail (an HTTP
// status, or 0 for a denial) and allows the rest.
type flakyWebhook struct {
	mu       sync.Mutex
	times    int
	status   int
	requests int
}

func (h *flakyWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.requests++
	failing := h.requests <= h.times
	h.mu.Unlock()
	if failing && h.status != 0 {
		http.Error(w, "the webhook is overloaded", h.status)
		return
	}
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: !failing}
	if failing {
		review.Response.Result = &metav1.Status{Code: http.StatusForbidden, Message: "the tenant's webhook refuses ConfigMaps today"}
	}
	review.Request = nil
	_ = json.NewEncoder(w).Encode(review)
}

// installWebhook serves h and registers it for ConfigMap creates in ns.
func installWebhook(t *testing.T, ns string, h *flakyWebhook) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "flaky-" + ns},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "configmaps.flaky.example.com",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To(srv.URL + "/validate"), CABundle: ca},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	create(t, cfg)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cfg) })
}

// TestRefusedCreateIsRetriedWithinTheBound: a webhook that denies the task
// ConfigMap twice (a refusal, 403) and then allows it does not end the
// execution: refusals are retried at least three times.
func TestRefusedCreateIsRetriedWithinTheBound(t *testing.T) {
	ns := newNamespace(t, nil)
	h := &flakyWebhook{times: 2}
	installWebhook(t, ns, h)
	ce := wrappers.MakeCodeExecution("refused-twice", ns).Obj()
	create(t, ce)
	waitJob(t, ce)
	if reason, msg := phase(t, ce); reason != execv1.ReasonPending {
		t.Errorf("after two refusals the execution is %s %q, want Pending with its Job", reason, msg)
	}
}

// TestTransientCreateErrorIsRetried: a webhook that fails with 503 (the API
// server answers 500: failed calling webhook) is retried until it works.
func TestTransientCreateErrorIsRetried(t *testing.T) {
	ns := newNamespace(t, nil)
	h := &flakyWebhook{times: 4, status: http.StatusServiceUnavailable}
	installWebhook(t, ns, h)
	ce := wrappers.MakeCodeExecution("webhook-down", ns).Obj()
	create(t, ce)
	waitJob(t, ce)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.requests <= h.times {
		t.Errorf("the webhook saw %d requests, want more than the %d it failed", h.requests, h.times)
	}
}

// TestPersistentRefusalEndsWithTheAPIMessage: a ResourceQuota that allows
// no ConfigMap refuses the task ConfigMap every time; after the bounded
// retries the execution ends with the API server's message, and no Job was
// ever created.
func TestPersistentRefusalEndsWithTheAPIMessage(t *testing.T) {
	ns := newNamespace(t, nil)
	zero := corev1.ResourceList{"count/configmaps": resource.MustParse("0")}
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-configmaps", Namespace: ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: zero},
	}
	create(t, quota)
	quota.Status = corev1.ResourceQuotaStatus{Hard: zero, Used: corev1.ResourceList{"count/configmaps": resource.MustParse("0")}}
	if err := k8s.Status().Update(context.Background(), quota); err != nil {
		t.Fatal(err)
	}
	ce := wrappers.MakeCodeExecution("quota-refused", ns).Obj()
	create(t, ce)
	c := waitDone(t, ce)
	wantCondition(t, c, metav1.ConditionFalse, execv1.ReasonPolicyViolation, "exceeded quota: no-configmaps")
	if !regexp.MustCompile(`refused ([3-9]|\d\d+) times`).MatchString(c.Message) {
		t.Errorf("message %q does not say the refusal was retried at least three times", c.Message)
	}
	if jobExists(ce) {
		t.Error("a Job exists although its task ConfigMap was never created")
	}
}
