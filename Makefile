# The two Quick-start commands: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export VETRINA_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export VETRINA_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test check install system-packages browser lint bench clean i18n compiled-catalogues

# The demo runs on sandbox money (every page says so); a real shop configures its own funding providers.
run: export VETRINA_FUNDING_PROVIDERS ?= ["sandbox"]
run: export VETRINA_TRANSCODE_CHUNK_SECONDS ?= 8
run: install  ## install, seed the demo, and serve on http://$(HOST):$(PORT)
	$(BIN)/vetrina demo
	$(BIN)/vetrina serve --host $(HOST) --port $(PORT) --demo-live

# The phone tests' screenshots are kept in test-artifacts/phone/ (not tracked), to look at after a run.
test: export VETRINA_TEST_ARTIFACTS ?= 1
test: install browser check  ## install, then run the checks (below) and the whole test suite
	@$(BIN)/pytest --numprocesses=2 --dist=loadgroup; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$status

install: system-packages $(VENV)/.installed node_modules/.installed compiled-catalogues

# What a stock Debian/Ubuntu lacks: venv support (python3-venv) and Node.js with npm; and, wanted but not
# required, the studio's Noto CJK fonts (Chinese, Japanese, Korean copy) and espeak-ng (voice-overs), and nginx
# with njs (the caching edge of deploy/nginx, which its tests start).
# Installed with apt-get when we are root or may sudo; otherwise we say what to install.
system-packages:
	@missing=""; wanted=""; \
	$(PYTHON) -c "import ensurepip" 2>/dev/null || missing="$$missing python3-venv"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	ls /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc >/dev/null 2>&1 || wanted="$$wanted fonts-noto-cjk"; \
	command -v espeak-ng >/dev/null || wanted="$$wanted espeak-ng"; \
	{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || wanted="$$wanted nginx"; \
	[ -e /usr/lib/nginx/modules/ngx_http_js_module.so ] || wanted="$$wanted libnginx-mod-http-js"; \
	[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || wanted="$$wanted libnginx-mod-rtmp"; \
	if [ -n "$$missing$$wanted" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing $$wanted; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing $$wanted; \
	  elif [ -n "$$missing" ]; then echo "please install:$$missing$$wanted"; exit 1; \
	  else echo "wanted, not required:$$wanted (the studio's CJK copy and voice-overs; the edge's and live ingest's tests)"; fi; \
	fi

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Translations (docs/i18n.md): gettext catalogues under src/vetrina/locales, one .po per language and domain
# ("messages": Python and templates; "scripts": the browser's scripts). `make i18n` extracts the texts, updates
# every catalogue from them and compiles; `make install` compiles what changed (the .mo files are not committed).
LOCALES := src/vetrina/locales
LANGUAGE_DIRS := it zh_Hans_CN
CATALOGUES := $(wildcard $(LOCALES)/*/LC_MESSAGES/*.po)
compiled-catalogues: $(CATALOGUES:.po=.mo)

$(LOCALES)/%.mo: $(LOCALES)/%.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@ 2>&1 | grep -v "^compiling" || true

i18n: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k n_:1,2 --no-wrap --add-location=file --sort-by-file --project=Vetrina \
	  -o $(LOCALES)/messages.pot src
	$(BIN)/pybabel extract -F babel-scripts.cfg --no-default-keywords -k t --no-wrap --add-location=file --sort-by-file \
	  --project=Vetrina -o $(LOCALES)/scripts.pot src
	@for domain in messages scripts; do for lang in $(LANGUAGE_DIRS); do \
	  if [ -f $(LOCALES)/$$lang/LC_MESSAGES/$$domain.po ]; then \
	    $(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete --no-wrap -D $$domain -l $$lang \
	      -i $(LOCALES)/$$domain.pot -d $(LOCALES); \
	  else $(BIN)/pybabel init -D $$domain -l $$lang -i $(LOCALES)/$$domain.pot -d $(LOCALES); fi; \
	done; done
	$(MAKE) --no-print-directory compiled-catalogues CATALOGUES="$$(ls $(LOCALES)/*/LC_MESSAGES/*.po)"

# Debian's Chromium for the browser tests; without root or apt the e2e tests skip and say so.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed and cannot be installed here: browser tests will skip"; fi; \
	fi

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# The quick checks, no tests: the linter and the formatting, the package arrows of docs/architecture.md
# (import-linter, contracts in pyproject.toml) and the types (mypy). `make test` runs them first.
check: lint
	PYTHONPATH=src $(BIN)/lint-imports
	$(BIN)/mypy

bench: install  ## the benchmarks (several minutes each)
	$(BIN)/python bench/transcode.py
	$(BIN)/python bench/checkout.py
	$(BIN)/python bench/timeline.py
	$(BIN)/python bench/studio.py
	$(BIN)/python bench/autotag.py
	$(BIN)/python bench/ads.py
	$(BIN)/python bench/signals.py
	$(BIN)/python bench/languages.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/events.py

clean:
	rm -rf $(VENV) node_modules vetrina-data
