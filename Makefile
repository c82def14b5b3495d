# The README's two commands: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
HOST ?= 127.0.0.1
WORKERS ?= 2

# Variables the demo runs with: production settings, but plain http on localhost, and the
# sandbox payment gateway (no money moves in the demo; production refuses it without this).
DEMO_ENV := SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0 \
	SECURE_HSTS_SECONDS=0 JIFEN_REGISTRATION_CODE_REQUIRED=0 JIFEN_SERVE_MEDIA=1 \
	JIFEN_ALLOW_SANDBOX_PAY=1 \
	SECRET_KEY="$$(cat var/secret_key)"

.PHONY: install demo serve test lint check bench clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

var/secret_key:
	mkdir -p var
	$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

demo: install var/secret_key
	$(DEMO_ENV) $(BIN)/jifen migrate --noinput
	$(DEMO_ENV) $(BIN)/jifen collectstatic --noinput --verbosity 0
	$(DEMO_ENV) $(BIN)/jifen load-demo
	@$(MAKE) --no-print-directory serve

serve: var/secret_key
	$(DEMO_ENV) BIN=$(BIN) HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) bash scripts/serve.sh

test: install
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: install
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=1 $(BIN)/python manage.py check

bench: install
	bash bench/run.sh

clean:
	rm -rf $(VENV) var
