# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install install-test zookeeper lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.py pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

# Debian's ZooKeeper 3.8, for the tests that compare with or interoperate with Java ZooKeeper
zookeeper:
	@test -f /usr/share/java/zookeeper.jar || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get -o DPkg::Lock::Timeout=600 install -y zookeeper >/dev/null 2>&1 || \
	  { apt-get -o DPkg::Lock::Timeout=600 update >/dev/null && \
	    apt-get -o DPkg::Lock::Timeout=600 install -y zookeeper >/dev/null; }; }
	@test -f /usr/share/java/zookeeper.jar

run: install
	mkdir -p data
	$(VENV)/bin/twistd --pidfile= -n zkserver -c conf/zoo.cfg

test: install zookeeper
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check zk_twisted conformance tests bench

clean:
	rm -rf $(VENV) data build *.egg-info
