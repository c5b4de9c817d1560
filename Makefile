# The two commands are `make run` and `make test`; both go through `make setup`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000

# The test suite runs against the real services (see DEVELOPERS.md).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: setup run test lint types pytest services browser office bench-beta bench-providers bench-retrieval bench-analytics bench-ask bench-imaging evaluate clean

setup: $(STAMP) browser office

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

# Debian's chromium and a CJK font (found through fontconfig's fc-match) for the browser tests,
# page screenshots and the poster composer.
browser:
	@if ! command -v chromium >/dev/null || ! command -v fc-match >/dev/null || ! dpkg-query -W -f='$${Status}' fonts-noto-cjk 2>/dev/null | grep -q installed; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing chromium, fontconfig and fonts-noto-cjk from Debian"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fontconfig fonts-noto-cjk; \
	  else echo "chromium, fontconfig or fonts-noto-cjk missing: install them with apt-get (browser tests and the poster composer need them)"; fi; \
	fi

# LibreOffice (headless, no GUI) turns exported .docx into PDF; poppler-utils' pdftoppm renders
# a PDF page to PNG for the export tests' screenshots; fonts-arphic-ukai is the 楷体 substitute
# (writer/export/fonts.conf; the others come from fonts-noto-cjk, installed above).
office:
	@if ! command -v soffice >/dev/null || ! command -v pdftoppm >/dev/null || ! dpkg-query -W -f='$${Status}' fonts-arphic-ukai 2>/dev/null | grep -q installed; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing libreoffice-writer-nogui, poppler-utils and fonts-arphic-ukai from Debian"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libreoffice-writer-nogui poppler-utils fonts-arphic-ukai; \
	  else echo "soffice, pdftoppm or fonts-arphic-ukai missing: install libreoffice-writer-nogui, poppler-utils and fonts-arphic-ukai with apt-get (PDF export needs them)"; fi; \
	fi

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	PORT=$(PORT) $(PY) manage.py serve

# PostgreSQL and Redis run when a session starts; start them when they are down.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
	@for i in $$(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && exit 0; sleep 0.5; done; \
	  echo "PostgreSQL or Redis did not come up within 30 s" >&2; exit 1

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP)
	$(VENV)/bin/mypy .

pytest: setup services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest $(PYTEST_ARGS)

test: setup lint types pytest

bench-beta: $(STAMP)
	$(PY) bench/beta_race.py

# Our search() beside haystack's in-memory BM25 on PostgreSQL (databases union_bench_<size>).
bench-retrieval: $(STAMP) services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/retrieval.py --segments 1000,10000,100000

# refresh_question_analytics() on 50,000 generated questions (database union_bench_analytics).
bench-analytics: $(STAMP) services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/question_analytics.py $(BENCH_ARGS)

# Retrieval figures of the demo knowledge base: the development questions, then our own sets
# (extra.jsonl and extra-b.jsonl ask about ../shared/corpus/extra/, which seed_demo imports
# with the laws).
evaluate: $(STAMP)
	$(PY) manage.py evaluate_retrieval ../shared/eval/dev.jsonl
	$(PY) manage.py evaluate_retrieval bench/questions/heldout-a.jsonl
	$(PY) manage.py evaluate_retrieval bench/questions/heldout-b.jsonl
	$(PY) manage.py evaluate_retrieval bench/questions/extra.jsonl
	$(PY) manage.py evaluate_retrieval bench/questions/heldout-c.jsonl
	$(PY) manage.py evaluate_retrieval bench/questions/extra-b.jsonl
	$(PY) manage.py evaluate_retrieval bench/questions/heldout-d.jsonl
	$(PY) manage.py evaluate_retrieval bench/questions/extra-c.jsonl

# 200 concurrent streamed chats through portal.ai against the fake provider (20 ms per token).
bench-providers: $(STAMP)
	$(PY) bench/providers.py $(BENCH_ARGS)

# 50 members asking streamed questions for 60 s through the API (PostgreSQL union_bench_ask,
# Redis db 14, the fake model at 2,575 ms per answer, uvicorn with 2 workers).
bench-ask: $(STAMP) services
	$(PY) bench/ask_load.py $(BENCH_ARGS)

# 500 image requests through 2 workers × 4 threads against the fake model at 1 s per image, then
# again with one worker killed (PostgreSQL union_bench_imaging, Redis REDIS_URL or db 6).
bench-imaging: $(STAMP) services
	$(PY) bench/imaging.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
