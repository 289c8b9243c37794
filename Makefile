# codeexec-operator

# Image of the manager and of the sandbox runner.
IMG ?= codeexec.io/manager:dev
RUNNER_IMG ?= codeexec.io/runner:dev

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
KUBECTL ?= $(LOCALBIN)/kubectl
# Packages scanned by controller-gen.
GEN_PATHS ?= ./api/...;./controllers/...

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs and the RBAC role from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="$(GEN_PATHS)" output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run

.PHONY: verify
verify: manifests generate ## Regenerate and fail when the generated files or gofmt differ from what is committed.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	git diff --exit-code -- api config
	@test -z "$$(git status --porcelain -- api config)" || { git status --porcelain -- api config; echo "untracked generated files"; exit 1; }

.PHONY: deps
deps: ## Install the Debian packages the tests use (python3-pandas, mariadb-server, chromium, ...).
	hack/install-deps.sh

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd and kubectl from the Go module proxy into bin/k8s (cached).
	hack/envtest-assets.sh >/dev/null

.PHONY: test
test: deps manifests generate envtest ## Run all unit, runner and control-plane tests.
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" go test ./... -count=1 -timeout 30m
	$(MAKE) fuzz-sqlguard

FUZZTIME ?= 60s
.PHONY: fuzz-sqlguard
fuzz-sqlguard: ## Fuzz the SQL guard's round trip for FUZZTIME (default 60s; CI runs it from test).
	go test ./internal/sqlguard/ -run '^$$' -fuzz '^FuzzGuard$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1x -timeout 20m

.PHONY: test-e2e
test-e2e: deps ## End-to-end tests on a real node: the cluster KUBECONFIG points at, or a local one brought up and down.
	hack/test-e2e.sh

.PHONY: test-e2e-gvisor
test-e2e-gvisor: deps ## The Pod-boundary e2e tests once under runc and once under gVisor (builds runsc into bin/gvisor), and the cost of each per execution.
	CLUSTER_GVISOR=1 E2E_RUNTIMES=runc,gvisor hack/test-e2e.sh -run 'TestPodAttacksOnTheRunner|TestConcurrentExecutionsDoNotShareAThreadBudget' -bench BenchmarkRuntimeClassCost -benchtime 1x

.PHONY: bench-e2e
bench-e2e: deps ## 20 executions against 20 bare Jobs on the local cluster (prints, does not assert).
	hack/test-e2e.sh -run '^$$' -bench BenchmarkExecutionsVsBareJobs -benchtime 1x

.PHONY: demo
demo: deps ## Run a Python, a SQL and a JSX execution end to end on a real cluster and print the results (KEEP=1 keeps it).
	hack/demo.sh

.PHONY: bench-controller
bench-controller: envtest ## Time 500 CodeExecutions to 500 Jobs against 500 plain Job creates (prints, does not assert).
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" go test ./test/integration/ -run '^$$' -bench BenchmarkControllerVsPlainJobs -benchtime 1x -count 1 -timeout 20m

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager and the runner into bin/.
	go build -o bin/manager .
	CGO_ENABLED=0 go build -tags runner_slim -o bin/runner ./cmd/runner
	CGO_ENABLED=0 go build -o bin/runner-full ./cmd/runner

.PHONY: run
run: manifests generate ## Run the manager against the cluster KUBECONFIG points at.
	go run . --runner-image $(RUNNER_IMG)

.PHONY: docker-build
docker-build: ## Build the manager and runner images (needs a Docker engine).
	docker build -t $(IMG) .
	docker build -t $(RUNNER_IMG) -f runner-image/Dockerfile .

##@ Deployment

.PHONY: install
install: manifests envtest ## Install the CRDs, the admission policies, the manager's identity (config/identity) and the baseline ExecutionPolicy into the cluster KUBECONFIG points at.
	$(KUBECTL) apply --server-side -f config/crd/bases
	$(KUBECTL) wait --for=condition=established --timeout=60s crd/executionpolicies.execution.codeexec.io
	$(KUBECTL) apply --server-side -f config/admission/execution-policy.yaml
	$(KUBECTL) apply --server-side -f config/samples/baseline-executionpolicy.yaml
	$(KUBECTL) apply --server-side -k config/identity
	$(KUBECTL) apply --server-side -f config/admission/sandbox-shape.yaml

.PHONY: uninstall
uninstall: manifests envtest ## Remove the CRDs and the admission policy.
	$(KUBECTL) delete --ignore-not-found -f config/samples/baseline-executionpolicy.yaml
	$(KUBECTL) delete --ignore-not-found -f config/admission/sandbox-shape.yaml
	$(KUBECTL) delete --ignore-not-found -f config/admission/execution-policy.yaml
	$(KUBECTL) delete --ignore-not-found -f config/crd/bases

.PHONY: deploy
deploy: manifests envtest ## Deploy the CRDs, the admission policy and the manager (config/default) into the cluster KUBECONFIG points at.
	$(KUBECTL) apply --server-side -f config/crd/bases
	$(KUBECTL) wait --for=condition=established --timeout=60s crd/executionpolicies.execution.codeexec.io crd/codeexecutions.execution.codeexec.io
	$(KUBECTL) apply --server-side -f config/admission/execution-policy.yaml
	$(KUBECTL) apply --server-side -f config/samples/baseline-executionpolicy.yaml
	$(KUBECTL) apply --server-side -k config/default
	$(KUBECTL) apply --server-side -f config/admission/sandbox-shape.yaml

.PHONY: undeploy
undeploy: envtest ## Remove the manager.
	$(KUBECTL) delete --ignore-not-found -k config/default

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT):
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
