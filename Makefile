# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run ensemble ensemble5 test install install-test zookeeper lint clean

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

# a local ensemble in the foreground (Ctrl-C stops every member): conf/ensemble-N/zk<i>.cfg,
# data under ./data/ensemble-N/zk<i> (myid written on first start)
ensemble: install
	@$(MAKE) --no-print-directory _members N=3

ensemble5: install
	@$(MAKE) --no-print-directory _members N=5

_members:
	@for i in $$(seq 1 $(N)); do d=data/ensemble-$(N)/zk$$i; mkdir -p $$d; \
	  test -f $$d/myid || echo $$i > $$d/myid; done
	@trap 'kill 0' INT TERM; for i in $$(seq 1 $(N)); do \
	  $(VENV)/bin/twistd --pidfile= -n zkserver -c conf/ensemble-$(N)/zk$$i.cfg 2>&1 | sed -u "s/^/[zk$$i] /" & \
	done; wait

test: install zookeeper
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check zk_twisted conformance tests bench

clean:
	rm -rf $(VENV) data build *.egg-info
