# vobiz.sip: `make demo` shows the collection at work against the bundled simulator; `make test` runs every check.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3 || command -v python)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
BUILD := $(CURDIR)/.build
# The checkout itself, seen through the ansible_collections/<namespace>/<name> layout Ansible resolves.
COLLECTIONS := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/vobiz/sip
# ansible-test wants a real copy (not a symlink) and keeps its venvs under HOME; both stay in .build.
SANITY_ROOT := $(BUILD)/sanity/ansible_collections/vobiz/sip
TEST_HOME := $(BUILD)/home

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)

.PHONY: help setup demo test unit integration sanity ansible-test-units clean

help:
	@echo "make demo   start the bundled Vobiz simulator and show the collection at work"
	@echo "make test   run the unit, integration and ansible-test sanity suites"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt -r requirements.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

setup: $(VENV)/.installed $(COLLECTION_LINK)

demo: setup
	$(BIN)/python hacking/demo.py

test: unit integration sanity ansible-test-units

unit: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

integration: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/integration

# A fresh copy of the working tree each run, so sanity sees exactly what is here now.
$(SANITY_ROOT): FORCE
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	tar -C $(CURDIR) --exclude=./.venv --exclude=./.build --exclude=./.git --exclude=./tests/output \
	    --exclude='__pycache__' --exclude=./.pytest_cache -cf - . | tar -C $(SANITY_ROOT) -xf -

FORCE:

$(TEST_HOME)/.ansible/test/cache/.seeded: hacking/get_pip_shim.py
	mkdir -p $(dir $@)
	for version in 24_2 25_2; do cp hacking/get_pip_shim.py $(dir $@)get_pip_$$version.py; done
	touch $@

PY_VERSION = $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

sanity: setup $(SANITY_ROOT) $(TEST_HOME)/.ansible/test/cache/.seeded
	cd $(SANITY_ROOT) && HOME=$(TEST_HOME) $(BIN)/ansible-test sanity --venv --python $(PY_VERSION) --color no

ansible-test-units: setup $(SANITY_ROOT) $(TEST_HOME)/.ansible/test/cache/.seeded
	cd $(SANITY_ROOT) && HOME=$(TEST_HOME) $(BIN)/ansible-test units --venv --python $(PY_VERSION) --color no

clean:
	rm -rf $(BUILD) dist tests/output
