# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
# Set-up is idempotent: the venv and node_modules are rebuilt only when their inputs change.
VENV := .venv
PY := $(VENV)/bin/python
BUF := node_modules/.bin/buf
# The googleapis protos the contract imports, copied out of googleapis-common-protos.
GOOGLEAPIS := build/googleapis/google/api/http.proto build/googleapis/google/rpc/code.proto

.PHONY: run test check lint protos protos-check docs setup clean other-languages breaking

run: $(VENV)/.runtime ## Start bucketd (gRPC :50051, REST :8080) with stand-in MongoDB and S3 unless configured (needs Python only); ARGS="--http-port 9090" passes flags
	$(VENV)/bin/bucketd serve $(ARGS)

test: setup ## Run the whole test suite (unit, integration, e2e) against real wire servers
	$(PY) -m pytest

check: setup lint protos-check ## Everything CI checks before the tests

lint: setup
	$(BUF) lint
	$(BUF) format --diff --exit-code
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

protos: setup ## Regenerate the Python stubs in bucketd/v1/ from protos/
	$(PY) scripts/gen_protos.py

protos-check: protos ## Fails when the committed stubs differ from a fresh regeneration
	git diff --exit-code -- bucketd/v1 || (echo "Stubs are stale: run 'make protos' and commit." >&2; exit 1)
	test -z "$$(git status --porcelain -- bucketd/v1)" || (echo "Untracked generated files: run 'make protos' and commit." >&2; exit 1)

docs: setup ## Regenerate the configuration and API tables of docs/ (settings, protos)
	$(PY) -m scripts.settings_table
	$(PY) -m scripts.api_table

other-languages: setup ## Java and C# from protoc, Go stubs + examples/go built and run (Debian packages: see docs/other-languages.md)
	scripts/check-other-languages.sh

breaking: setup ## buf breaking against origin/main (or REF=<git ref>)
	scripts/buf-breaking.sh $(REF)

TS := clients/typescript

setup: $(VENV)/.installed node_modules/.installed $(GOOGLEAPIS) $(TS)/src/gen/.generated

# `make run` needs bucketd and its stand-ins only; the tests add the dev extra (its test tools).
$(VENV)/.runtime: pyproject.toml
	@echo "First run: creating $(VENV) with Python 3.13 and installing bucketd with its stand-ins (about a minute; later runs skip this)."
	test -x $(PY) || { python=$$(scripts/find-python.sh) && "$$python" -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[standins]'
	touch $@

$(VENV)/.installed: $(VENV)/.runtime pyproject.toml
	@echo "Installing the test tools (the dev extra; later runs skip this)."
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

$(TS)/node_modules/.installed: $(TS)/package.json $(TS)/package-lock.json
	cd $(TS) && npm ci --silent --no-audit --no-fund
	touch $@

# The TypeScript stubs are not committed: buf generates them (buf.gen.yaml) from protos/.
$(TS)/src/gen/.generated: $(TS)/node_modules/.installed node_modules/.installed $(GOOGLEAPIS) buf.gen.yaml $(wildcard protos/bucketd/v1/*.proto)
	$(BUF) generate --template buf.gen.yaml
	touch $@

$(GOOGLEAPIS) &: $(VENV)/.installed
	$(PY) scripts/gen_protos.py --googleapis-only

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .mypy_cache .ruff_cache $(TS)/node_modules $(TS)/src/gen
